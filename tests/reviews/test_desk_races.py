"""The desk and the review queue deciding one customer at the same moment, with real threads on PostgreSQL.

Run with ``DATABASE_URL=postgres://… pytest -m postgres``; on SQLite these are skipped.
"""

import time

from accounts import services as account_services
from accounts.models import Line, ServicePoint, User
from reviews import services
from reviews.models import Submission
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import resident_id
from tests.races import RACE_MARKS, run_together

pytestmark = RACE_MARKS

ID_NUMBER = resident_id(birth="19850214", sequence="357")


def test_a_desk_verification_while_a_reviewer_approves_the_online_submission_ends_cleanly(monkeypatch):
    customer = CustomerFactory()
    line, code = make_line(owner=customer)
    submission = services.submission_create(
        user=customer,
        full_name="李晓华",
        id_number=ID_NUMBER,
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    reviewer = make_staff("reviewer")
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    point = ServicePointFactory(kind=ServicePoint.Kind.VERIFICATION)
    clerk = make_staff("clerk", service_point=point)
    original = account_services.user_mark_real_name_verified

    def slowly(*args, **kwargs):
        time.sleep(0.6)  # the approval holds the submission and the customer; the desk takes the line
        return original(*args, **kwargs)

    monkeypatch.setattr(account_services, "user_mark_real_name_verified", slowly)

    def desk():
        time.sleep(0.2)
        return services.submission_verify_in_person(
            actor=clerk,
            activation_code=code,
            full_name="李晓华",
            id_number=ID_NUMBER,
            customer_phone=customer.phone,
        )

    results = run_together(lambda: services.submission_approve(submission_id=submission.pk, actor=reviewer), desk)

    # The desk waited for the approval, then found the line in service: a clear refusal, no deadlock.
    assert results[0][0] == "ok", results
    assert results[1][0] == "error" and str(results[1][1]) == str(services.ERR_CODE_ALREADY_VERIFIED), results
    assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
    assert Submission.objects.filter(user=customer, status=Submission.Status.APPROVED).count() == 1


def test_two_clerks_verifying_two_lines_for_one_new_number_at_once_make_one_account():
    point = ServicePointFactory(kind=ServicePoint.Kind.VERIFICATION)
    clerks = [make_staff("clerk", service_point=point) for _ in range(2)]
    lines = [make_line() for _ in range(2)]
    phone = "+8613755550000"

    def verify(clerk, code):
        return services.submission_verify_in_person(
            actor=clerk, activation_code=code, full_name="李晓华", id_number=ID_NUMBER, customer_phone=phone
        )

    codes = [code for _line, code in lines]
    results = run_together(*[lambda c=c, code=code: verify(c, code) for c, code in zip(clerks, codes, strict=True)])

    # One verifies; the other waits for it and is told the number's account is verified now, not a crash.
    outcomes = sorted(outcome for outcome, _value in results)
    assert outcomes == ["error", "ok"], results
    [refusal] = [value for outcome, value in results if outcome == "error"]
    assert str(refusal) == str(services.ERR_CUSTOMER_ALREADY_VERIFIED), refusal
    assert User.objects.filter(phone=phone).count() == 1
