"""Who may verify online by age, and which birth dates an ID number may carry.

Online self-registration needs MIN_SELF_REGISTRATION_AGE (default 16) on the day of
submission: someone younger is refused when they submit, with a message sending them to
a service point. At the desk a clerk sees the person and the original card, so the desk
takes any age; both refuse birth dates before 1900, today or later (tests/reviews/test_services.py).
"""

import datetime

import pytest
from django.utils import timezone
from django.utils.html import escape

from reviews.models import Certificate, Submission
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import resident_id
from tests.security.forms import SUBMIT_URL, submission_form

pytestmark = pytest.mark.django_db

UNDERAGE_MESSAGE = "Online verification is for people aged {age} and over."


def born_years_ago(years: int, *, days_later: int = 0) -> str:
    today = timezone.localdate()
    try:
        birthday = today.replace(year=today.year - years)
    except ValueError:  # 29 February in a year without one
        birthday = today.replace(year=today.year - years, day=28)
    return (birthday + datetime.timedelta(days=days_later)).strftime("%Y%m%d")


@pytest.fixture(autouse=True)
def _english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def submit_online(client, id_number):
    customer = CustomerFactory()
    client.force_login(customer)
    return customer, client.post(SUBMIT_URL, submission_form(customer, id_number=id_number))


def test_someone_a_day_short_of_the_minimum_age_is_refused_online_with_a_clear_message(client, settings):
    customer, response = submit_online(client, resident_id(birth=born_years_ago(16, days_later=1), sequence="201"))

    assert settings.MIN_SELF_REGISTRATION_AGE == 16
    assert response.status_code == 200
    assert escape(UNDERAGE_MESSAGE.format(age=16)) in response.content.decode()
    assert not Submission.objects.filter(user=customer).exists()


def test_someone_who_turns_the_minimum_age_today_verifies_online(client):
    customer, response = submit_online(client, resident_id(birth=born_years_ago(16), sequence="202"))

    assert response.status_code == 302
    assert Submission.objects.filter(user=customer).exists()


def test_the_minimum_age_comes_from_the_setting(client, settings):
    settings.MIN_SELF_REGISTRATION_AGE = 18
    customer, response = submit_online(client, resident_id(birth=born_years_ago(17), sequence="203"))

    assert escape(UNDERAGE_MESSAGE.format(age=18)) in response.content.decode()
    assert not Submission.objects.filter(user=customer).exists()


def test_at_the_desk_a_clerk_verifies_a_child_in_person(client):
    clerk = make_staff("clerk", service_point=ServicePointFactory())
    _line, code = make_line()
    client.force_login(clerk)
    form = {
        "activation_code": code,
        "full_name": "韩梅梅",
        "id_number": resident_id(birth=born_years_ago(10), sequence="204"),
        "customer_phone": "+8613711112233",
        "card_checked": "on",
    }

    response = client.post("/staff/desk/verify/", form)

    assert response.status_code == 302
    assert Certificate.objects.count() == 1


@pytest.mark.parametrize("birth", ["00010101", "18000101"])
def test_an_impossible_birth_date_is_refused_online_and_at_the_desk(client, birth):
    _customer, response = submit_online(client, resident_id(birth=birth, sequence="205"))
    assert "before 1900, which cannot be right" in response.content.decode()
    assert not Submission.objects.exists()

    clerk = make_staff("clerk", service_point=ServicePointFactory())
    _line, code = make_line()
    client.force_login(clerk)
    form = {
        "activation_code": code,
        "full_name": "韩梅梅",
        "id_number": resident_id(birth=birth, sequence="206"),
        "customer_phone": "+8613711112233",
        "card_checked": "on",
    }
    response = client.post("/staff/desk/verify/", form)
    assert response.status_code == 400
    assert "before 1900, which cannot be right" in response.content.decode()
    assert not Certificate.objects.exists()
