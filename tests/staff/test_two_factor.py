"""Two-factor sign-in for staff (TOTP with django-otp) when HEYON_REQUIRE_STAFF_2FA is on."""

import base64
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent
from accounts.views_2fa import ERR_TOKEN
from reviews.demo import submit_demo
from reviews.models import PhotoAccess
from tests.factories import CustomerFactory, make_staff
from tests.staff.conftest import ROLES, page_shows, unique_id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings):
    settings.HEYON_REQUIRE_STAFF_2FA = True


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the staff member's authenticator app shows now (or ``steps_ahead`` steps from now)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"


def wrong_code_for(device: TOTPDevice) -> str:
    """A 6-digit code the device does not accept in its tolerance window."""
    accepted = {code_for(device, steps_ahead=step) for step in range(-3, 4)}
    return next(code for code in ("000000", "111111", "123456", "654321") if code not in accepted)


def signed_in(user, **cookies) -> Client:
    client = Client()
    client.cookies.load(cookies)
    client.force_login(user)
    return client


def enrol(client, user) -> tuple[TOTPDevice, list[str]]:
    """Go through enrolment with the right code; return the device and the recovery codes shown."""
    client.get("/staff/2fa/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/staff/2fa/", {"token": code_for(device), "next": "/staff/"})
    assert response.status_code == 200
    return device, response.context["codes"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/staff/", "/admin/", "/staff/reviews/", "/admin/accounts/user/"])
def test_staff_without_a_device_are_sent_to_enrol(required, role, path):
    client = signed_in(make_staff(role))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/staff/2fa/?next={quote(path, safe='')}"


def test_the_enrolment_page_shows_a_qr_code_and_the_key_for_the_app(required, settings):
    staff = make_staff("reviewer")
    client = signed_in(staff, **{settings.LANGUAGE_COOKIE_NAME: "en"})

    response = client.get("/staff/2fa/?next=/staff/")

    html = response.content.decode()
    device = TOTPDevice.objects.get(user=staff)
    assert not device.confirmed
    assert 'data-testid="totp-qr"' in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert base64.b32encode(device.bin_key).decode() in html
    assert "otpauth://totp/" in device.config_url
    again = client.get("/staff/2fa/")
    assert TOTPDevice.objects.filter(user=staff).count() == 1, "reloading keeps the same key"
    assert base64.b32encode(device.bin_key).decode() in again.content.decode()


def test_enrolment_with_the_right_code_confirms_the_device_and_opens_staff_pages(required):
    staff = make_staff("reviewer")
    client = signed_in(staff)
    client.get("/staff/2fa/")
    device = TOTPDevice.objects.get(user=staff)

    response = client.post("/staff/2fa/", {"token": code_for(device), "next": "/staff/reviews/"})

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in response.content.decode() for code in codes)
    assert 'href="/staff/reviews/"' in response.content.decode()
    assert StaticToken.objects.filter(device__user=staff).count() == 10
    assert AuditEvent.objects.filter(verb="staff.2fa_enrolled", actor=staff).count() == 1
    assert client.get("/staff/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_at_enrolment_says_so_and_changes_nothing(required, settings):
    staff = make_staff("support")
    client = signed_in(staff, **{settings.LANGUAGE_COOKIE_NAME: "en"})
    client.get("/staff/2fa/")
    device = TOTPDevice.objects.get(user=staff)
    key = device.key

    response = client.post("/staff/2fa/", {"token": wrong_code_for(device), "next": "/staff/"})

    assert response.status_code == 200
    assert page_shows(response, ERR_TOKEN)
    device.refresh_from_db()
    assert not device.confirmed and device.key == key
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert not AuditEvent.objects.filter(verb="staff.2fa_enrolled").exists()
    assert client.get("/staff/").status_code == 302, "still not past the second factor"


def test_after_a_wrong_code_the_right_one_still_enrols_once_the_pause_is_over(required, monkeypatch):
    staff = make_staff("support")
    client = signed_in(staff)
    client.get("/staff/2fa/")
    device = TOTPDevice.objects.get(user=staff)
    client.post("/staff/2fa/", {"token": wrong_code_for(device)})

    later = timezone.now() + timedelta(seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = client.post("/staff/2fa/", {"token": code_for(device)})

    assert response.status_code == 200 and "codes" in response.context
    device.refresh_from_db()
    assert device.confirmed


def test_an_enrolled_staff_member_enters_a_code_at_the_next_sign_in(required):
    staff = make_staff("senior_reviewer")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = signed_in(staff)

    sent_to = client.get("/staff/customers/")
    assert sent_to["Location"] == "/staff/2fa/?next=%2Fstaff%2Fcustomers%2F"
    page = client.get(sent_to["Location"])
    assert 'data-testid="verify-2fa"' in page.content.decode()
    assert 'data-testid="totp-qr"' not in page.content.decode(), "no new key for an enrolled device"

    response = client.post("/staff/2fa/", {"token": code_for(device), "next": "/staff/customers/"})

    assert response.status_code == 302 and response["Location"] == "/staff/customers/"
    assert client.get("/staff/customers/").status_code == 200
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_a_wrong_code_at_sign_in_is_refused_with_a_clear_message(required, settings):
    staff = make_staff("reviewer")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = signed_in(staff, **{settings.LANGUAGE_COOKIE_NAME: "en"})

    response = client.post("/staff/2fa/", {"token": wrong_code_for(device), "next": "/staff/"})

    assert response.status_code == 200
    assert page_shows(response, ERR_TOKEN)
    assert client.get("/staff/").status_code == 302


def test_the_next_page_after_the_code_stays_on_this_site(required):
    staff = make_staff("reviewer")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client = signed_in(staff)

    response = client.post("/staff/2fa/", {"token": code_for(device), "next": "https://evil.example/steal"})

    assert response["Location"] == "/staff/"


def test_recovery_codes_are_fresh_unambiguous_and_as_many_as_configured(required, settings):
    from accounts.services.twofactor import staff_recovery_codes_reset

    settings.STAFF_RECOVERY_CODE_COUNT = 12
    staff = make_staff("reviewer")

    codes = staff_recovery_codes_reset(user=staff)
    again = staff_recovery_codes_reset(user=staff)

    assert len(codes) == 12 and len(set(codes)) == 12
    assert all(len(code) == 10 and set(code) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for code in codes)
    assert not set(codes) & set(again)


def test_recovery_codes_work_once_each(required, monkeypatch):
    staff = make_staff("reviewer")
    _device, codes = enrol(signed_in(staff), staff)
    first, second = codes[0], codes[1]

    client = signed_in(staff)
    used = client.post("/staff/2fa/", {"token": first.lower(), "next": "/staff/"})
    assert used.status_code == 302 and used["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert AuditEvent.objects.filter(verb="staff.2fa_recovery_code_used", actor=staff).count() == 1

    client = signed_in(staff)
    again = client.post("/staff/2fa/", {"token": first, "next": "/staff/"})
    assert again.status_code == 200
    assert client.get("/staff/").status_code == 302

    later = timezone.now() + timedelta(seconds=5)  # past django-otp's pause after the refused code
    monkeypatch.setattr(timezone, "now", lambda: later)
    client = signed_in(staff)
    other = client.post("/staff/2fa/", {"token": f" {second[:5]} {second[5:]} ", "next": "/staff/"})
    assert other.status_code == 302
    assert StaticToken.objects.filter(device__user=staff).count() == 8


@pytest.mark.parametrize("path", ["/account/", "/support/", "/verification/", "/notifications/"])
def test_customers_are_not_asked_for_a_second_factor(required, path):
    client = signed_in(CustomerFactory())

    assert client.get(path).status_code == 200


def test_customers_cannot_enrol_and_staff_pages_stay_refused(required):
    client = signed_in(CustomerFactory())

    assert client.get("/staff/2fa/").status_code == 403
    assert client.get("/staff/").status_code == 403
    assert not TOTPDevice.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in_not_to_enrol(required):
    response = Client().get("/staff/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ROLES)
def test_with_the_setting_off_staff_need_no_second_factor(settings, role):
    settings.HEYON_REQUIRE_STAFF_2FA = False
    client = signed_in(make_staff(role))

    assert client.get("/staff/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert not TOTPDevice.objects.exists()


def test_without_the_second_factor_staff_cannot_open_id_photos_or_receipts(required, world):
    """The second factor guards what staff may see, not only the /staff/ and /admin/ prefixes."""
    photo_owner = CustomerFactory()
    submission = submit_demo(user=photo_owner, full_name="王小明", id_number=unique_id_number(), seed=3)
    photo = submission.photos.first()
    support = world.staff["support"]
    senior = world.staff["senior_reviewer"]
    device = TOTPDevice.objects.create(user=senior, name="phone", confirmed=True)
    photo_url = f"/verification/photos/{photo.pk}/full/"
    receipt_url = f"/billing/receipts/{world.receipt.number}/pdf/"

    for staff, url in [(senior, photo_url), (support, receipt_url)]:
        response = signed_in(staff).get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/staff/2fa/?next="), url
    assert not PhotoAccess.objects.exists()

    client = signed_in(senior)
    client.post("/staff/2fa/", {"token": code_for(device), "next": "/staff/"})
    assert client.get(photo_url).status_code == 200
    assert PhotoAccess.objects.filter(staff=senior).count() == 1
    owner = signed_in(photo_owner)
    assert owner.get(photo_url).status_code == 200, "the customer's own photo needs no second factor"


@pytest.mark.parametrize("path", ["/", "/service-points/"])
def test_staff_signing_out_or_changing_language_before_the_code_is_not_blocked(required, path):
    client = signed_in(make_staff("clerk"))

    assert client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302
    assert client.get(path)["Location"].startswith("/staff/2fa/"), "other pages wait for the code"
    signed_out = client.post("/accounts/logout/")
    assert signed_out.status_code == 302 and not signed_out["Location"].startswith("/staff/2fa/")
    assert client.get(path).status_code == 200
