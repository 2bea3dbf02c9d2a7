"""Second-factor codes sent at the same moment (real threads, PostgreSQL): django-otp's throttle
and a recovery code's single use hold for each of them."""

import threading

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from tests.factories import make_staff
from tests.races import RACE_MARKS, errors, run_together, values
from tests.staff.test_two_factor import wrong_code_for

pytestmark = RACE_MARKS

GUESSES = 12


@pytest.fixture
def enrolled():
    staff = make_staff("reviewer")
    device = services.staff_totp_enrolment_start(user=staff)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    codes = services.staff_recovery_codes_reset(user=staff)
    return staff, TOTPDevice.objects.get(pk=device.pk), codes


@pytest.fixture
def compared_codes(monkeypatch):
    """How many codes were really compared with the authenticator's (not refused by the throttle)."""
    compared = []
    lock = threading.Lock()
    original = TOTP.verify

    def counting(totp, token, *args, **kwargs):
        with lock:
            compared.append(token)
        return original(totp, token, *args, **kwargs)

    monkeypatch.setattr(TOTP, "verify", counting)
    return compared


def test_guesses_at_once_meet_the_throttle_one_by_one(enrolled, compared_codes):
    staff, device, _codes = enrolled
    wrong = wrong_code_for(device)

    results = run_together(
        *[(lambda: services.staff_second_factor_verify(user=staff, token=wrong)) for _ in range(GUESSES)]
    )

    assert not errors(results)
    assert values(results) == [None] * GUESSES
    # The first wrong code throttles the device for a second: the others, sent within it, are
    # refused unread, as they would be one after another.
    assert len(compared_codes) == 1
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_a_recovery_code_sent_twice_at_once_signs_in_once(enrolled):
    staff, _device, codes = enrolled

    results = run_together(
        *[(lambda: services.staff_second_factor_verify(user=staff, token=codes[0])) for _ in range(4)]
    )

    assert not errors(results)
    assert sum(device is not None for device in values(results)) == 1
