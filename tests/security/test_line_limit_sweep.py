"""一证五号 on every path that makes a line active: each one driven to the limit, none passes it.

The paths: attaching a line (service and page), approval online and at a desk, coming
back after a revoked approval, renewal of an expired or suspended line (online, at a
store, auto-renew, a provider's late success), and admin. The last test reads the code:
every statement that makes a line active must sit in a function that calls
``lines_activation_allow``, and those functions are exactly the ones this sweep drives. A
new way to activate a line fails it until it is added here.
"""

import ast
import importlib
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Identity, Line, User
from billing import services as billing_services
from billing.models import LineService, Order, Payment, Plan
from billing.selectors import wallet_balance
from reviews import pii
from reviews import services as review_services
from reviews.models import Submission
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import resident_id

pytestmark = pytest.mark.django_db

LIMIT = 2
ID_NUMBER = resident_id(birth="19850214", sequence="357")
NAME = "李晓华"


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.MAX_LINES_PER_ID = LIMIT


def active_on_id(id_number=ID_NUMBER) -> int:
    index = pii.id_number_blind_index(id_number)
    return Line.objects.filter(status=Line.Status.ACTIVE, owner__identity_index=index).count()


def submit(user, id_number=ID_NUMBER) -> Submission:
    return review_services.submission_create(
        user=user, full_name=NAME, id_number=id_number, contact_phone=user.phone.as_e164, photos=None, actor=user
    )


def approve(submission, reviewer=None):
    reviewer = reviewer or make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return review_services.submission_approve(submission_id=submission.pk, actor=reviewer)


def verified_holder(lines: int, id_number=ID_NUMBER) -> User:
    """A customer verified online with ``id_number`` and ``lines`` active lines."""
    user = CustomerFactory()
    for _ in range(lines):
        make_line(owner=user)
    approve(submit(user, id_number))
    user.refresh_from_db()
    assert user.lines.filter(status=Line.Status.ACTIVE).count() == lines
    return user


@pytest.fixture
def at_limit() -> User:
    """The ID holds LIMIT active lines on one account."""
    holder = verified_holder(LIMIT)
    assert active_on_id() == LIMIT
    return holder


def expired_line_of(user) -> Line:
    """Another line of ``user`` that was active and expired (attached while the ID had room)."""
    line, _code = make_line()
    Line.objects.filter(pk=line.pk).update(
        owner=user,
        status=Line.Status.EXPIRED,
        activation_code_used_at=timezone.now(),
        attached_at=timezone.now(),
        activated_at=timezone.now() - timedelta(days=400),
        validity_end=timezone.now() - timedelta(days=3),
    )
    return Line.objects.get(pk=line.pk)


# Attaching ---------------------------------------------------------------------------------


def test_a_verified_customer_at_the_limit_cannot_attach_another_line(at_limit):
    line, code = make_line()

    with pytest.raises(account_services.LineLimitExceeded) as refused:
        account_services.line_attach(actor=at_limit, activation_code=code)

    assert str(refused.value) == str(account_services.ERR_LINE_LIMIT)
    line.refresh_from_db()
    assert (line.owner_id, line.status, line.activation_code_used_at) == (None, Line.Status.INACTIVE, None)
    assert active_on_id() == LIMIT


def test_another_account_with_the_same_id_cannot_attach_past_the_limit(at_limit):
    other = verified_holder(0)
    _line, code = make_line()

    with pytest.raises(account_services.LineLimitExceeded):
        account_services.line_attach(actor=other, activation_code=code)

    assert active_on_id() == LIMIT


def test_the_add_line_page_shows_the_limit_and_attaches_nothing(client, at_limit):
    _line, code = make_line()
    client.force_login(at_limit)
    client.cookies["django_language"] = "en"

    response = client.post("/account/lines/add/", {"activation_code": code})

    assert response.status_code == 200
    assert "maximum number of active lines" in response.content.decode()
    assert active_on_id() == LIMIT


def test_a_clerk_attaching_for_a_verified_customer_at_the_limit_is_refused(at_limit):
    _line, code = make_line()

    with pytest.raises(account_services.LineLimitExceeded):
        account_services.line_attach(actor=make_staff("clerk"), owner=at_limit, activation_code=code)

    assert active_on_id() == LIMIT


def test_a_different_id_is_not_limited_by_this_one(at_limit):
    other = verified_holder(LIMIT, id_number=resident_id(birth="19900101", sequence="123"))

    assert other.lines.filter(status=Line.Status.ACTIVE).count() == LIMIT


# Approval ----------------------------------------------------------------------------------


def test_lines_attached_after_submitting_are_counted_at_review_and_approval(client, settings):
    holder = verified_holder(1)
    customer = CustomerFactory()
    submission = submit(customer)
    assert "line_limit" not in submission.flags  # no line yet when submitted
    make_line(owner=customer)
    make_line(owner=customer)
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)

    client.force_login(reviewer)
    client.cookies["django_language"] = "en"
    page = client.get(f"/staff/reviews/{submission.pk}/")
    assert page.status_code == 200
    assert page.context["submission"].flags["line_limit"] == {"held_elsewhere": 1, "this_account": 2, "max": LIMIT}

    with pytest.raises(review_services.LineLimitReached) as refused:
        review_services.submission_approve(submission_id=submission.pk, actor=reviewer)
    assert str(refused.value) == str(review_services.ERR_LINE_LIMIT_ONLY_REJECT)
    with pytest.raises(review_services.ReviewError):
        review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY"])

    review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["LINE_LIMIT"])
    customer.refresh_from_db()
    assert not customer.is_real_name_verified
    assert active_on_id() == 1 == holder.lines.filter(status=Line.Status.ACTIVE).count()


def test_a_pending_customer_with_seven_codes_is_not_approved_into_seven_lines(settings):
    settings.MAX_LINES_PER_ID = 5
    customer = CustomerFactory()
    make_line(owner=customer)
    submission = submit(customer)
    for _ in range(6):
        make_line(owner=customer)

    with pytest.raises(review_services.LineLimitReached):
        approve(submission)

    assert not Line.objects.filter(owner=customer, status=Line.Status.ACTIVE).exists()


def test_desk_verification_at_the_limit_is_refused(at_limit):
    clerk = make_staff("clerk", service_point=ServicePointFactory(kind="verification"))
    _line, code = make_line()

    with pytest.raises(review_services.ReviewError) as refused:
        review_services.submission_verify_in_person(
            actor=clerk, activation_code=code, full_name=NAME, id_number=ID_NUMBER, customer_phone="+8613712345678"
        )

    assert str(refused.value) == str(review_services.ERR_LINE_LIMIT_IN_PERSON)
    assert active_on_id() == LIMIT


def test_verifying_again_after_a_revocation_does_not_bring_back_lines_past_the_limit():
    first = verified_holder(1)
    second = verified_holder(1)
    senior = make_staff("senior_reviewer")
    approval = Submission.objects.get(user=second, status=Submission.Status.APPROVED)
    review_services.submission_revoke_approval(submission_id=approval.pk, actor=senior, reason_codes=["IMG_BLURRY"])
    make_line(owner=first)  # the room the suspension left is taken
    assert active_on_id() == LIMIT

    with pytest.raises(review_services.LineLimitReached):
        approve(submit(second))

    assert second.lines.get().status == Line.Status.SUSPENDED
    assert active_on_id() == LIMIT


def test_activating_waiting_lines_directly_is_limited_too(at_limit):
    line, _code = make_line()
    Line.objects.filter(pk=line.pk).update(owner=at_limit, activation_code_used_at=timezone.now())

    with pytest.raises(account_services.LineLimitExceeded), transaction.atomic():
        account_services.lines_activate_waiting(user=at_limit, actor=None)

    assert active_on_id() == LIMIT


# Renewal -----------------------------------------------------------------------------------


@pytest.fixture
def plan():
    return Plan.objects.get(code="basic", is_current=True)


def renewal(user, line, plan, **kwargs) -> Order:
    return billing_services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=uuid.uuid4().hex, **kwargs
    )


def test_renewing_an_expired_line_at_the_limit_is_refused_before_anything_is_charged(at_limit, plan):
    expired = expired_line_of(at_limit)
    billing_services.ledger_append(user=at_limit, kind="topup", amount=Decimal("100"), reference="T-LIMIT-1")
    order = renewal(at_limit, expired, plan)

    with pytest.raises(billing_services.BillingError) as refused:
        billing_services.order_pay(order_id=order.pk, method="wallet", actor=at_limit)

    assert str(refused.value) == str(account_services.ERR_LINE_LIMIT)
    expired.refresh_from_db()
    assert expired.status == Line.Status.EXPIRED
    assert wallet_balance(user=at_limit) == Decimal("100.00")
    assert active_on_id() == LIMIT


def test_a_card_success_for_an_expired_line_at_the_limit_is_refunded(at_limit, plan):
    expired = expired_line_of(at_limit)
    order = renewal(at_limit, expired, plan)
    payment = Payment.objects.create(order=order, method="card", amount=order.amount, out_trade_no="P-LIMIT-1")

    billing_services.payment_record_result(out_trade_no=payment.out_trade_no, status="succeeded", transaction_id="T")

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("refunded", "line_not_renewable")
    assert active_on_id() == LIMIT


def test_store_renewal_of_an_expired_line_at_the_limit_is_refused(at_limit, plan):
    expired = expired_line_of(at_limit)
    clerk = make_staff("clerk", service_point=ServicePointFactory(kind="store"))

    with pytest.raises(billing_services.BillingError):
        billing_services.store_renewal(
            actor=clerk, msisdn=expired.msisdn, id_number=ID_NUMBER, plan_id=plan.pk, term_months=1,
            method="store_cash", idempotency_key=uuid.uuid4().hex,
        )  # fmt: skip

    expired.refresh_from_db()
    assert expired.status == Line.Status.EXPIRED
    assert active_on_id() == LIMIT


def test_auto_renew_leaves_out_only_the_expired_line_the_limit_refuses(at_limit, plan):
    expired = expired_line_of(at_limit)
    other_user = verified_holder(1, id_number=resident_id(birth="19900101", sequence="123"))
    ok_line = other_user.lines.get()
    for user, line in ((at_limit, expired), (other_user, ok_line)):
        billing_services.ledger_append(user=user, kind="topup", amount=Decimal("100"), reference=f"T-AR-{line.pk}")
        LineService.objects.update_or_create(
            line=line, defaults={"plan": plan, "auto_renew": True, "auto_renew_method": "wallet"}
        )
    Line.objects.filter(pk=ok_line.pk).update(validity_end=timezone.now() + timedelta(days=1))

    counts = billing_services.autorenew_run()

    expired.refresh_from_db()
    ok_line.refresh_from_db()
    assert expired.status == Line.Status.EXPIRED
    assert ok_line.validity_end > timezone.now() + timedelta(days=20)
    assert counts["renewed"] == 1
    assert active_on_id() == LIMIT


def test_lines_extend_refuses_an_expired_line_past_the_limit(at_limit):
    expired = expired_line_of(at_limit)

    with pytest.raises(account_services.LineLimitExceeded):
        account_services.lines_extend(extensions={expired.pk: 1}, actor=None)

    expired.refresh_from_db()
    assert expired.status == Line.Status.EXPIRED


def test_a_suspended_line_is_never_made_active_by_a_renewal(plan):
    user = verified_holder(1)
    line = user.lines.get()
    order = renewal(user, line, plan)
    approval = Submission.objects.get(user=user, status=Submission.Status.APPROVED)
    review_services.submission_revoke_approval(
        submission_id=approval.pk, actor=make_staff("senior_reviewer"), reason_codes=["IMG_BLURRY"]
    )
    billing_services.ledger_append(user=user, kind="topup", amount=Decimal("100"), reference="T-SUSP-1")

    with pytest.raises(billing_services.BillingError):
        billing_services.order_pay(order_id=order.pk, method="wallet", actor=user)
    account_services.lines_extend(extensions={line.pk: 1}, actor=None)

    line.refresh_from_db()
    assert line.status == Line.Status.SUSPENDED


# Admin -------------------------------------------------------------------------------------


def test_admin_cannot_activate_a_line_or_set_a_customers_identity(client):
    waiting_owner = CustomerFactory()
    line, _code = make_line(owner=waiting_owner)
    admin_user = make_staff("admin")
    client.force_login(admin_user)

    client.post(
        reverse("admin:accounts_line_change", args=[line.pk]),
        {"msisdn": str(line.msisdn), "iccid": line.iccid, "status": "active", "owner": waiting_owner.pk},
    )
    user_page = client.get(reverse("admin:accounts_user_change", args=[waiting_owner.pk]))
    # Neither the identity nor the verified time is a form field: only the services set them.
    assert user_page.status_code == 200
    assert not {"identity_index", "real_name_verified_at"} & set(user_page.context["adminform"].form.fields)

    line.refresh_from_db()
    waiting_owner.refresh_from_db()
    assert line.status == Line.Status.INACTIVE
    assert (waiting_owner.identity_index, waiting_owner.real_name_verified_at) == ("", None)


# The code: every activation goes through the check ----------------------------------------

# The functions that write an active status to a line, each driven above.
ACTIVATING_FUNCTIONS = {
    ("accounts/services/lines.py", "_activate_waiting"),
    ("accounts/services/lines.py", "lines_extend"),
}


def _writes_active(node: ast.AST) -> bool:
    """``….status = Line.Status.ACTIVE`` / ``"active"``, or ``status=`` that value in a call (update, create)."""

    def is_active(value):
        return (isinstance(value, ast.Attribute) and value.attr == "ACTIVE" and "Status" in ast.unparse(value)) or (
            isinstance(value, ast.Constant) and value.value == "active"
        )

    if isinstance(node, ast.Assign):
        return is_active(node.value) and any(
            isinstance(target, ast.Attribute) and target.attr == "status" for target in node.targets
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "update", "create", "bulk_create", "update_or_create", "get_or_create",
    ):  # fmt: skip
        return any(keyword.arg == "status" and is_active(keyword.value) for keyword in node.keywords)
    return False


def test_every_statement_that_activates_a_line_is_behind_the_limit_check():
    root = Path(django_settings.BASE_DIR)
    apps = ["accounts", "reviews", "billing", "customers", "heyon_site"]
    found = set()
    for app in apps:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                direct = [node for node in ast.walk(function) if _writes_active(node)]
                if not direct:
                    continue
                source = ast.unparse(function)
                relative = path.relative_to(root).as_posix()
                # Line's status only: the services that set "active" on other models (a plan,
                # a service point) would show up here and be looked at, not waved through.
                found.add((relative, function.name))
                assert "lines_activation_allow(" in source, f"{relative}:{function.name} activates without the check"
    assert found == ACTIVATING_FUNCTIONS


def test_the_data_migration_records_the_identity_of_accounts_verified_before_it():
    holder = verified_holder(1)
    User.objects.filter(pk=holder.pk).update(identity_index="")
    Identity.objects.all().delete()
    unverified = CustomerFactory()
    submit(unverified)
    backfill = importlib.import_module("reviews.migrations.0010_backfill_identity_index").backfill

    backfill(apps, None)

    holder.refresh_from_db()
    unverified.refresh_from_db()
    assert holder.identity_index == pii.id_number_blind_index(ID_NUMBER)
    assert unverified.identity_index == ""
    assert Identity.objects.filter(index=holder.identity_index).exists()
