"""In-person verification at a service point: desk, service, certificates, PDF and public check."""

import functools
import os
import re

import pypdfium2
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.models import AuditEvent, Line, Notification, ServicePoint, User
from accounts.services import lines as line_services
from reviews import certificates, services
from reviews.models import Certificate, DraftPhoto, Submission, SubmissionEvent, private_storage
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import jpeg_bytes, resident_id
from tests.pdfs import qr_code_text

pytestmark = pytest.mark.django_db

NAME = "李晓华"
ID_NUMBER = resident_id(birth="19850214", sequence="357")
PHONE = "+8613712345678"


@pytest.fixture(autouse=True)
def _empty_cache():
    # The public check counts requests per IP in the cache; locmem outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager that runs the block's on-commit callbacks (sends the queued SMS and email)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def point():
    return ServicePointFactory(code="bj-sanlitun", name="三里屯营业厅", kind=ServicePoint.Kind.VERIFICATION)


@pytest.fixture
def other_point():
    return ServicePointFactory(code="sh-jingan", name="静安营业厅", kind=ServicePoint.Kind.BOTH)


@pytest.fixture
def clerk(point):
    return make_staff("clerk", service_point=point)


@pytest.fixture
def other_clerk(other_point):
    return make_staff("clerk", service_point=other_point)


def en(message) -> str:
    with translation.override("en"):
        return str(message)


def page_shows(response, message) -> bool:
    return escape(en(message)) in response.content.decode()


def verify(clerk, code, *, phone=PHONE, full_name=NAME, id_number=ID_NUMBER, photos=None):
    return services.submission_verify_in_person(
        actor=clerk,
        activation_code=code,
        full_name=full_name,
        id_number=id_number,
        customer_phone=phone,
        photos=photos,
    )


def desk_form(code, **overrides):
    data = {
        "activation_code": code,
        "full_name": NAME,
        "id_number": ID_NUMBER,
        "customer_phone": PHONE,
        "card_checked": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def approve_online(user, *, id_number=ID_NUMBER):
    """An online submission approved by a reviewer: the user now holds ``id_number``."""
    submission = services.submission_create(
        user=user, full_name="王芳", id_number=id_number, contact_phone=user.phone.as_e164, photos=None, actor=user
    )
    reviewer = make_staff("reviewer")
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return services.submission_approve(submission_id=submission.pk, actor=reviewer)


def private_files() -> set[str]:
    root = private_storage().location
    found = set()
    for folder, _dirs, files in os.walk(root):
        found.update(os.path.relpath(os.path.join(folder, name), root) for name in files)
    return found


def assert_nothing_created(line, *, users_before: int):
    line.refresh_from_db()
    assert line.owner is None and line.status == Line.Status.INACTIVE and line.activation_code_used_at is None
    assert User.objects.count() == users_before
    assert not Submission.objects.filter(channel=Submission.Channel.OFFLINE).exists()
    assert not Certificate.objects.exists()


# Finding the line ------------------------------------------------------------------------


def test_unknown_activation_code_is_refused_at_lookup_with_a_clear_message(client, clerk):
    make_line()
    client.force_login(clerk)
    client.cookies["django_language"] = "en"

    response = client.post("/staff/desk/lookup/", {"activation_code": "ABCD-EFGH-JKMN-PQRS"}, follow=True)

    assert response.redirect_chain == [("/staff/desk/", 302)]
    assert page_shows(response, line_services.ERR_CODE_UNKNOWN)


def test_unknown_activation_code_is_refused_by_the_service_and_nothing_is_created(clerk):
    line, _code = make_line()
    users = User.objects.count()

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, "ABCD-EFGH-JKMN-PQRS")

    assert str(refused.value) == str(line_services.ERR_CODE_UNKNOWN)
    assert_nothing_created(line, users_before=users)


def test_unknown_activation_code_posted_to_verify_creates_nothing(client, clerk):
    line, _code = make_line()
    users = User.objects.count()
    client.force_login(clerk)
    client.cookies["django_language"] = "en"

    response = client.post("/staff/desk/verify/", desk_form("ABCD-EFGH-JKMN-PQRS"), follow=True)

    assert response.redirect_chain == [("/staff/desk/", 302)]
    assert page_shows(response, line_services.ERR_CODE_UNKNOWN)
    assert_nothing_created(line, users_before=users)


def test_lookup_of_an_attached_line_shows_the_form_with_the_owners_phone(client, clerk):
    customer = CustomerFactory()
    line, code = make_line(owner=customer)
    client.force_login(clerk)

    response = client.post("/staff/desk/lookup/", {"activation_code": code.lower().replace("-", " ")})

    assert response.status_code == 200
    assert response.context["line"] == line
    form = response.context["form"]
    assert form.initial["customer_phone"] == customer.phone
    assert line.msisdn.as_national in response.content.decode()


def test_used_activation_code_is_refused_at_lookup(client, clerk):
    customer = CustomerFactory(real_name_verified_at=timezone.now())
    line, code = make_line(owner=customer)
    assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
    client.force_login(clerk)
    client.cookies["django_language"] = "en"

    response = client.post("/staff/desk/lookup/", {"activation_code": code}, follow=True)

    assert response.redirect_chain == [("/staff/desk/", 302)]
    assert page_shows(response, services.ERR_CODE_ALREADY_VERIFIED)


def test_used_activation_code_is_refused_by_the_service(clerk):
    customer = CustomerFactory(real_name_verified_at=timezone.now())
    _line, code = make_line(owner=customer)

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, phone=customer.phone)

    assert str(refused.value) == str(services.ERR_CODE_ALREADY_VERIFIED)
    assert not Submission.objects.exists() and not Certificate.objects.exists()


def test_unattached_line_for_an_already_verified_number_is_refused_with_a_clear_reason(clerk):
    verified = CustomerFactory(real_name_verified_at=timezone.now())
    line, code = make_line()

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, phone=verified.phone)

    assert str(refused.value) == str(services.ERR_CUSTOMER_ALREADY_VERIFIED)
    line.refresh_from_db()
    assert line.owner is None and line.status == Line.Status.INACTIVE
    assert not Submission.objects.exists()


def test_unattached_line_for_a_verified_number_at_the_line_limit_is_refused_not_a_crash(clerk, settings):
    settings.MAX_LINES_PER_ID = 1
    verified = CustomerFactory(real_name_verified_at=timezone.now())
    Line.objects.filter(pk=make_line(owner=verified)[0].pk).update(status=Line.Status.ACTIVE)
    line, code = make_line()

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, phone=verified.phone)

    assert str(refused.value) == str(services.ERR_CUSTOMER_ALREADY_VERIFIED)
    line.refresh_from_db()
    assert line.owner is None and line.status == Line.Status.INACTIVE


def test_second_verification_with_the_same_code_is_refused(clerk):
    _line, code = make_line()
    verify(clerk, code)

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code)

    assert str(refused.value) == str(services.ERR_CODE_ALREADY_VERIFIED)
    assert Certificate.objects.count() == 1
    assert Submission.objects.count() == 1


# Verifying -------------------------------------------------------------------------------


def test_verifying_an_unattached_line_creates_the_account_attaches_and_activates_the_line(clerk, point, sent):
    line, code = make_line()

    with sent():
        certificate = verify(clerk, code)

    customer = User.objects.get(phone=PHONE)
    assert not customer.has_usable_password()
    assert customer.is_active and not customer.is_staff
    assert customer.is_real_name_verified
    line.refresh_from_db()
    assert line.owner == customer
    assert line.status == Line.Status.ACTIVE
    assert line.validity_end is not None
    submission = certificate.submission
    assert submission.user == customer
    assert submission.status == Submission.Status.APPROVED
    assert submission.channel == Submission.Channel.OFFLINE
    assert submission.decided_by == clerk
    assert submission.service_point == point
    assert submission.full_name == NAME
    assert list(submission.events.order_by("pk").values_list("verb", "actor")) == [
        ("submitted", clerk.pk),
        ("verified_in_person", clerk.pk),
    ]
    verified = AuditEvent.objects.get(verb="submission.verified_in_person")
    assert (verified.actor, verified.subject_user, verified.target_id) == (clerk, customer, str(submission.pk))
    assert verified.data == {
        "from": "pending",
        "to": "approved",
        "channel": "offline",
        "service_point": point.code,
        "certificate": certificate.number,
    }
    assert certificate.line == line and certificate.issued_by == clerk and certificate.service_point == point
    assert certificate.holder_name_masked == "李**"
    assert Notification.objects.filter(user=customer, params__number=certificate.number).exists()


def test_customer_is_texted_the_certificate_number_only_after_commit(
    clerk, sms_outbox, django_capture_on_commit_callbacks
):
    _line, code = make_line()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        certificate = verify(clerk, code)
    assert sms_outbox == []

    for callback in callbacks:
        callback()
    texts = [message["text"] for message in sms_outbox if message["to"] == PHONE]
    assert any(certificate.number in text for text in texts)


def test_verifying_an_attached_line_uses_its_owner(clerk, sms_outbox, sent):
    customer = CustomerFactory()
    line, code = make_line(owner=customer)
    users = User.objects.count()

    with sent():
        certificate = verify(clerk, code, phone=customer.phone.as_national)

    assert User.objects.count() == users
    assert certificate.submission.user == customer
    customer.refresh_from_db()
    assert customer.is_real_name_verified
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE and line.owner == customer
    assert any(
        certificate.number in message["text"] for message in sms_outbox if message["to"] == customer.phone.as_e164
    )


def test_a_line_in_another_numbers_account_is_refused_and_nothing_changes(clerk, sms_outbox):
    # Someone who learnt the buyer's code added the line to their own account first; the
    # buyer comes to the desk with their own number and ID card.
    taker = CustomerFactory(phone="+8613700000009")
    line, code = make_line(owner=taker)

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, phone="+8613700000001")

    assert str(refused.value) == str(services.ERR_LINE_OF_ANOTHER_NUMBER) % {"phone": "137****0009"}
    taker.refresh_from_db()
    assert not taker.is_real_name_verified
    line.refresh_from_db()
    assert line.owner == taker and line.status == Line.Status.INACTIVE
    assert not Submission.objects.exists() and not Certificate.objects.exists()
    assert not User.objects.filter(phone="+8613700000001").exists()
    assert sms_outbox == []


def test_the_desk_page_says_whose_account_the_line_is_in(client, clerk):
    _line, code = make_line(owner=CustomerFactory(phone="+8613700000009"))
    client.force_login(clerk)

    response = client.post("/staff/desk/verify/", desk_form(code, customer_phone="13700000001"))

    assert response.status_code == 400  # the form again, with the refusal
    assert "137****0009" in response.content.decode()
    assert not Submission.objects.exists()


def test_an_existing_account_with_the_mobile_number_gets_the_line(clerk):
    customer = CustomerFactory(phone=PHONE)
    line, code = make_line()

    certificate = verify(clerk, code)

    assert certificate.submission.user == customer
    line.refresh_from_db()
    assert line.owner == customer and line.status == Line.Status.ACTIVE
    customer.refresh_from_db()
    assert customer.has_usable_password()  # the customer's own password is kept


def test_open_online_submission_is_withdrawn_and_replaced_by_the_offline_one(clerk):
    customer = CustomerFactory()
    _line, code = make_line(owner=customer)
    online = services.submission_create(
        user=customer,
        full_name=NAME,
        id_number=ID_NUMBER,
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    reviewer = make_staff("reviewer")
    services.submission_claim(submission_id=online.pk, actor=reviewer)

    certificate = verify(clerk, code, phone=customer.phone)

    online.refresh_from_db()
    assert online.status == Submission.Status.WITHDRAWN
    withdrawn = online.events.get(verb="withdrawn")
    assert withdrawn.actor == clerk
    assert withdrawn.from_status == Submission.Status.IN_REVIEW
    assert withdrawn.to_status == Submission.Status.WITHDRAWN
    offline = certificate.submission
    assert offline.pk != online.pk
    assert offline.status == Submission.Status.APPROVED and offline.channel == Submission.Channel.OFFLINE
    assert offline.attempt_number == online.attempt_number + 1
    # The reviewer who had claimed the online one can no longer decide it.
    with pytest.raises(services.ReviewError) as refused:
        services.submission_approve(submission_id=online.pk, actor=reviewer)
    assert str(refused.value) == str(services.ERR_ALREADY_DECIDED)


def test_withdraw_open_without_an_open_submission_does_nothing(clerk):
    customer = CustomerFactory()

    assert services.submission_withdraw_open(user=customer, actor=clerk, note="none open") is None
    assert not SubmissionEvent.objects.exists()


def test_final_online_rejection_does_not_block_in_person_verification(clerk):
    customer = CustomerFactory()
    _line, code = make_line(owner=customer)
    online = services.submission_create(
        user=customer,
        full_name=NAME,
        id_number=ID_NUMBER,
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    reviewer = make_staff("reviewer")
    services.submission_claim(submission_id=online.pk, actor=reviewer)
    services.submission_reject(submission_id=online.pk, actor=reviewer, reason_codes=["FACE_MISMATCH"])
    assert services.submission_blocker(user=customer) == str(services.ERR_FINAL_BLOCK)

    certificate = verify(clerk, code, phone=customer.phone)

    assert certificate.submission.status == Submission.Status.APPROVED
    customer.refresh_from_db()
    assert customer.is_real_name_verified


def test_attempt_limit_does_not_block_in_person_verification(clerk, settings):
    settings.MAX_SUBMISSION_ATTEMPTS = 1
    customer = CustomerFactory()
    _line, code = make_line(owner=customer)
    online = services.submission_create(
        user=customer,
        full_name=NAME,
        id_number=ID_NUMBER,
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )
    reviewer = make_staff("reviewer")
    services.submission_claim(submission_id=online.pk, actor=reviewer)
    services.submission_reject(submission_id=online.pk, actor=reviewer, reason_codes=["IMG_BLURRY"])
    assert services.submission_blocker(user=customer) == str(services.ERR_TOO_MANY_ATTEMPTS)

    certificate = verify(clerk, code, phone=customer.phone)

    assert certificate.submission.status == Submission.Status.APPROVED


# 一证五号 ---------------------------------------------------------------------------------


@pytest.fixture
def id_at_limit(settings):
    """MAX_LINES_PER_ID=1 and another verified account already holds a line under ID_NUMBER."""
    settings.MAX_LINES_PER_ID = 1
    holder = CustomerFactory()
    make_line(owner=holder)
    approve_online(holder)
    holder.refresh_from_db()
    assert holder.identity_index == _index(ID_NUMBER)
    assert holder.lines.get().status == "active"
    return holder


def _index(id_number):
    from reviews import pii

    return pii.id_number_blind_index(id_number)


def test_line_limit_refuses_in_person_verification_and_leaves_nothing_behind(clerk, id_at_limit, sent):
    line, code = make_line()
    users = User.objects.count()
    notifications = Notification.objects.count()

    with sent(), pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, photos=services.PhotoSet())

    assert str(refused.value) == str(services.ERR_LINE_LIMIT_IN_PERSON)
    assert_nothing_created(line, users_before=users)
    assert Notification.objects.count() == notifications


def test_line_limit_applies_to_a_desk_verification_without_photos(clerk, id_at_limit):
    line, code = make_line()
    users = User.objects.count()

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, photos=None)

    assert str(refused.value) == str(services.ERR_LINE_LIMIT_IN_PERSON)
    assert_nothing_created(line, users_before=users)


def test_line_limit_refusal_keeps_the_customers_open_online_submission(clerk, id_at_limit):
    customer = CustomerFactory()
    line, code = make_line(owner=customer)
    online = services.submission_create(
        user=customer,
        full_name=NAME,
        id_number=ID_NUMBER,
        contact_phone=customer.phone.as_e164,
        photos=None,
        actor=customer,
    )

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code, phone=customer.phone)

    assert str(refused.value) == str(services.ERR_LINE_LIMIT_IN_PERSON)
    online.refresh_from_db()
    assert online.status == Submission.Status.PENDING
    assert not online.events.filter(verb="withdrawn").exists()
    line.refresh_from_db()
    assert line.status == Line.Status.INACTIVE
    assert not Certificate.objects.exists()


def test_line_limit_at_the_desk_shows_the_error_and_stores_no_submission_photo(client, clerk, id_at_limit):
    line, code = make_line()
    users = User.objects.count()
    files = private_files()
    client.force_login(clerk)
    client.cookies["django_language"] = "en"
    photo = SimpleUploadedFile("front.jpg", jpeg_bytes(seed=21), content_type="image/jpeg")

    response = client.post("/staff/desk/verify/", {**desk_form(code), "id_front": photo})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [en(services.ERR_LINE_LIMIT_IN_PERSON)]
    assert_nothing_created(line, users_before=users)
    # Only the clerk's draft of the photo is left (kept for the form, expiring), no submission's file.
    [draft] = DraftPhoto.objects.filter(clerk=clerk, line=line)
    assert private_files() - files == {draft.image.name, draft.thumbnail.name}


def test_below_the_line_limit_the_same_id_is_verified(clerk, id_at_limit, settings):
    settings.MAX_LINES_PER_ID = 2
    _line, code = make_line()

    certificate = verify(clerk, code)

    assert certificate.submission.status == Submission.Status.APPROVED


# Who may verify --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ServicePoint.Kind.STORE, None, "inactive"])
def test_clerk_without_an_active_verification_point_is_refused(kind):
    if kind is None:
        clerk = make_staff("clerk")
    elif kind == "inactive":
        clerk = make_staff("clerk", service_point=ServicePointFactory(is_active=False))
    else:
        clerk = make_staff("clerk", service_point=ServicePointFactory(kind=kind))
    line, code = make_line()
    users = User.objects.count()

    with pytest.raises(services.ReviewError) as refused:
        verify(clerk, code)

    assert str(refused.value) == str(services.ERR_NOT_A_VERIFICATION_POINT)
    assert_nothing_created(line, users_before=users)


def test_store_clerk_at_the_desk_sees_the_refusal_and_nothing_is_created(client):
    clerk = make_staff("clerk", service_point=ServicePointFactory(kind=ServicePoint.Kind.STORE))
    line, code = make_line()
    users = User.objects.count()
    client.force_login(clerk)
    client.cookies["django_language"] = "en"

    response = client.post("/staff/desk/verify/", desk_form(code))

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [en(services.ERR_NOT_A_VERIFICATION_POINT)]
    assert_nothing_created(line, users_before=users)
    assert 'data-testid="desk-lookup"' not in client.get("/staff/desk/").content.decode()


@pytest.mark.parametrize("role", ["reviewer", "senior_reviewer", "support"])
@pytest.mark.parametrize("path", ["/staff/desk/lookup/", "/staff/desk/verify/"])
def test_staff_without_verify_in_person_get_403_at_the_desk(client, point, role, path):
    user = make_staff(role, service_point=point)
    line, code = make_line()
    users = User.objects.count()
    client.force_login(user)

    response = client.post(path, desk_form(code))

    assert response.status_code == 403
    assert_nothing_created(line, users_before=users)


@pytest.mark.parametrize("path", ["/staff/desk/lookup/", "/staff/desk/verify/"])
def test_customer_gets_403_at_the_desk(client, path):
    customer = CustomerFactory()
    _line, code = make_line(owner=customer)
    client.force_login(customer)

    response = client.post(path, desk_form(code, customer_phone=customer.phone.as_e164))

    assert response.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/staff/desk/"),
        ("post", "/staff/desk/lookup/"),
        ("post", "/staff/desk/verify/"),
        ("get", "/staff/desk/certificates/BJ-SANLITUN-000001-AAAAAA/"),
        ("get", "/staff/desk/certificates/BJ-SANLITUN-000001-AAAAAA/pdf/"),
    ],
)
def test_anonymous_is_sent_to_the_login_page(client, method, path):
    _line, code = make_line()

    response = getattr(client, method)(path, desk_form(code) if method == "post" else None)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Submission.objects.exists()


# Certificates seen by staff --------------------------------------------------------------


@pytest.fixture
def two_points_certificates(clerk, other_clerk):
    _line, code = make_line()
    mine = verify(clerk, code)
    _line, code = make_line()
    theirs = verify(other_clerk, code, phone="+8613700000002", id_number=resident_id(sequence="456"))
    return mine, theirs


@pytest.mark.parametrize("suffix", ["", "pdf/"])
def test_clerk_gets_404_for_another_service_points_certificate(client, clerk, two_points_certificates, suffix):
    mine, theirs = two_points_certificates
    client.force_login(clerk)

    assert client.get(f"/staff/desk/certificates/{theirs.number}/{suffix}").status_code == 404
    assert client.get(f"/staff/desk/certificates/{mine.number}/{suffix}").status_code == 200


def test_desk_lists_only_this_service_points_certificates(client, clerk, other_clerk, two_points_certificates):
    mine, theirs = two_points_certificates

    client.force_login(clerk)
    page = client.get("/staff/desk/").content.decode()
    assert mine.number in page and theirs.number not in page

    client.force_login(other_clerk)
    page = client.get("/staff/desk/").content.decode()
    assert theirs.number in page and mine.number not in page


def test_certificate_page_shows_the_masked_holder_not_the_id_number(client, clerk, two_points_certificates):
    mine, _theirs = two_points_certificates
    client.force_login(clerk)

    page = client.get(f"/staff/desk/certificates/{mine.number}/").content.decode()

    assert mine.number in page and "李**" in page
    assert ID_NUMBER not in page and NAME not in page


def test_support_without_a_service_point_sees_any_certificate(client, two_points_certificates):
    mine, theirs = two_points_certificates
    client.force_login(make_staff("support"))

    assert client.get(f"/staff/desk/certificates/{mine.number}/").status_code == 200
    assert client.get(f"/staff/desk/certificates/{theirs.number}/").status_code == 200


def test_reviewer_without_view_certificate_gets_403_for_a_certificate(client, two_points_certificates):
    mine, _theirs = two_points_certificates
    client.force_login(make_staff("reviewer"))

    assert client.get(f"/staff/desk/certificates/{mine.number}/").status_code == 403
    assert client.get(f"/staff/desk/certificates/{mine.number}/pdf/").status_code == 403


def test_unknown_certificate_number_is_404_for_staff(client, clerk):
    client.force_login(clerk)

    assert client.get("/staff/desk/certificates/BJ-SANLITUN-000009-AAAAAA/").status_code == 404


# Certificate numbers ---------------------------------------------------------------------


def test_certificate_numbers_run_per_service_point(clerk, other_clerk):
    issued = []
    for clerk_, phone, sequence in [
        (clerk, "+8613700000011", "111"),
        (clerk, "+8613700000012", "112"),
        (other_clerk, "+8613700000013", "113"),
    ]:
        _line, code = make_line()
        issued.append(verify(clerk_, code, phone=phone, id_number=resident_id(sequence=sequence)))

    first, second, elsewhere = issued
    assert re.fullmatch(r"BJ-SANLITUN-000001-[A-Z2-7]{6}", first.number)
    assert re.fullmatch(r"BJ-SANLITUN-000002-[A-Z2-7]{6}", second.number)
    assert re.fullmatch(r"SH-JINGAN-000001-[A-Z2-7]{6}", elsewhere.number)
    assert [c.sequence for c in issued] == [1, 2, 1]
    assert all(certificates.signature_is_valid(c.number) for c in issued)
    assert certificates.signature_is_valid(first.number.lower())  # typed in lower case


def forged_numbers(number: str) -> list[str]:
    prefix, _sep, signature = number.rpartition("-")
    point, _sep, sequence = prefix.rpartition("-")
    other_sequence = f"{int(sequence) + 1:06d}"
    other_signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{point}-{other_sequence}-{signature}",  # the next number with this signature
        f"{prefix}-{other_signature}",  # the signature changed
        f"{prefix}-{signature[:-1]}",  # the signature cut short
        prefix,  # no signature
    ]


def test_forged_certificate_numbers_fail_the_signature_check(clerk):
    _line, code = make_line()
    number = verify(clerk, code).number

    for forged in forged_numbers(number):
        assert not certificates.signature_is_valid(forged), forged
    assert not certificates.signature_is_valid("")


def test_make_number_is_deterministic_and_signed():
    number = certificates.make_number("bj-sanlitun", 42)

    assert number.startswith("BJ-SANLITUN-000042-")
    assert number == certificates.make_number("BJ-SANLITUN", 42)
    assert certificates.signature_is_valid(number)
    assert certificates.make_number("bj-sanlitun", 43).rsplit("-", 1)[1] != number.rsplit("-", 1)[1]


# The public check ------------------------------------------------------------------------


def test_public_page_confirms_a_genuine_certificate_with_masked_name_and_date_only(client, clerk):
    _line, code = make_line()
    certificate = verify(clerk, code)

    response = client.get("/certificates/verify/", {"number": f" {certificate.number.lower()} "})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-genuine="yes"' in html
    assert "李**" in html
    assert timezone.localtime(certificate.issued_at).strftime("%Y-%m-%d") in html
    for secret in (NAME, "晓华", ID_NUMBER, ID_NUMBER[:6] + "*", PHONE, PHONE[-8:]):
        assert secret not in html, secret


@pytest.mark.parametrize("kind", ["forged", "unknown"])
def test_public_page_says_not_genuine_for_a_forged_or_unknown_number(client, clerk, kind):
    _line, code = make_line()
    real = verify(clerk, code).number
    # "unknown": correctly signed, but never issued.
    number = forged_numbers(real)[0] if kind == "forged" else certificates.make_number("bj-sanlitun", 99)

    response = client.get("/certificates/verify/", {"number": number})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-genuine="no"' in html and 'data-genuine="yes"' not in html
    assert "李**" not in html


def test_public_page_refuses_a_badly_signed_number_without_a_database_query(client, clerk, django_assert_num_queries):
    _line, code = make_line()
    forged = forged_numbers(verify(clerk, code).number)[1]

    with django_assert_num_queries(0):
        response = client.get("/certificates/verify/", {"number": forged})

    assert 'data-genuine="no"' in response.content.decode()


def test_public_page_without_a_number_shows_only_the_form(client):
    response = client.get("/certificates/verify/")

    assert response.status_code == 200
    assert "data-genuine" not in response.content.decode()


def test_public_page_is_rate_limited_per_ip(client, clerk, settings):
    settings.CERTIFICATE_VERIFY_RATE_PER_MINUTE = 2
    _line, code = make_line()
    number = verify(clerk, code).number

    statuses = [client.get("/certificates/verify/", {"number": number}).status_code for _ in range(2)]
    third = client.get("/certificates/verify/", {"number": number})

    assert statuses == [200, 200]
    assert third.status_code == 429
    assert "data-genuine" not in third.content.decode()
    other_ip = client.get("/certificates/verify/", {"number": number}, REMOTE_ADDR="203.0.113.9")
    assert other_ip.status_code == 200


# The PDF ---------------------------------------------------------------------------------


def test_certificate_pdf_has_the_number_chinese_text_and_a_qr_code_to_the_public_check(client, clerk, point):
    line, code = make_line()
    certificate = verify(clerk, code)
    client.force_login(clerk)

    response = client.get(f"/staff/desk/certificates/{certificate.number}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    page = pypdfium2.PdfDocument(body)[0]
    text = page.get_textpage().get_text_range()
    assert certificate.number in text
    assert "李**" in text and point.name in text  # Chinese survives in the text layer (CJK font)
    assert line.msisdn.as_national.replace(" ", "") in text.replace(" ", "")
    assert NAME not in text and ID_NUMBER not in text
    assert qr_code_text(page) == f"http://testserver/certificates/verify/?number={certificate.number}"


# Bad input at the desk -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("id_number", {"id_number": ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")}),  # checksum
        ("id_number", {"id_number": resident_id(birth="20990101")}),  # born in the future
        ("id_number", {"id_number": "1101051985"}),  # too short
        ("card_checked", {"card_checked": None}),
        ("full_name", {"full_name": "   "}),
        ("customer_phone", {"customer_phone": "12345"}),
    ],
)
def test_bad_input_at_the_desk_is_a_form_error_and_creates_nothing(client, clerk, field, overrides):
    line, code = make_line()
    users = User.objects.count()
    client.force_login(clerk)

    response = client.post("/staff/desk/verify/", desk_form(code, **overrides))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert_nothing_created(line, users_before=users)


def test_desk_verification_with_a_photo_stores_it_and_redirects_to_the_certificate(client, clerk, point, sent):
    line, code = make_line()
    client.force_login(clerk)
    client.cookies["django_language"] = "en"
    photo = SimpleUploadedFile("front.jpg", jpeg_bytes(seed=31), content_type="image/jpeg")

    lookup = client.post("/staff/desk/lookup/", {"activation_code": code})
    assert lookup.status_code == 200 and lookup.context["line"] == line
    with sent():
        response = client.post("/staff/desk/verify/", {**desk_form(code), "id_front": photo})

    certificate = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/desk/certificates/{certificate.number}/"
    assert certificate.number.startswith("BJ-SANLITUN-000001-")
    submission = certificate.submission
    assert list(submission.photos.values_list("kind", flat=True)) == ["id_front"]
    assert submission.photos.get().image.name in private_files()
    assert submission.contact_phone == PHONE
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE and line.owner.phone == PHONE
