"""Phone numbers shown to people: national for a Chinese number, international for any other."""

import phonenumbers
import pytest
from django.template import Context, Template
from phonenumber_field.phonenumber import PhoneNumber

from accounts.phones import phone_display
from tests.factories import CustomerFactory, ServicePointFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        (PhoneNumber.from_string("+8613512340001"), "135 1234 0001"),
        (PhoneNumber.from_string("+861088888888"), "010 8888 8888"),
        (PhoneNumber.from_string("+85251234567"), "+852 5123 4567"),
        (phonenumbers.parse("+14155552671"), "+1 415-555-2671"),
        ("+8613512340001", "135 1234 0001"),
        ("13512340001", "135 1234 0001"),  # typed without +86: read as a Chinese number
        ("010-1234-5678", "010 1234 5678"),
        ("+85251234567", "+852 5123 4567"),
        ("call me", "call me"),
        ("12345", "12345"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_number_is_shown_national_at_home_and_international_otherwise(number, shown):
    assert phone_display(number) == shown


def test_the_template_filter_is_the_same_helper():
    template = Template("{% load phones %}{{ cn|phone }} / {{ hk|phone }}")

    rendered = template.render(Context({"cn": PhoneNumber.from_string("+8613512340001"), "hk": "+85251234567"}))

    assert rendered == "135 1234 0001 / +852 5123 4567"


def test_staff_see_a_foreign_customers_number_with_its_country_code(client):
    customer = CustomerFactory(phone="+85251234567")
    client.force_login(make_staff("support"))

    response = client.get(f"/staff/customers/{customer.pk}/")

    assert response.status_code == 200
    assert "+852 5123 4567" in response.content.decode()


def test_service_points_show_their_number_formatted_and_dial_it_as_entered(client):
    ServicePointFactory(phone="010-1234-5678")

    page = client.get("/service-points/").content.decode()

    assert '<a href="tel:010-1234-5678">010 1234 5678</a>' in page
