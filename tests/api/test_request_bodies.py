"""Bodies an app would never send: each is a 4xx problem that changes nothing, never a 500."""

import pytest

from accounts.models import AuditEvent
from api.models import IdempotencyKey
from billing.models import Order
from tests.api.conftest import API, key, problem

pytestmark = pytest.mark.django_db

TOO_DEEP = "[" * 5000 + "]" * 5000


def test_json_nested_too_deeply_is_a_parse_problem_for_anyone(app):
    response = app.generic("POST", f"{API}auth/token/", TOO_DEEP, content_type="application/json")
    assert response.status_code == 400
    assert problem(response)["code"] == "parse_error"
    assert problem(response)["detail"] == "The JSON body is nested too deeply."


def test_json_nested_too_deeply_on_a_write_changes_nothing_and_leaves_the_key_free(signed_in):
    idempotency_key = key()
    url = f"{API}orders/top-up/"
    body = '{"amount": ' + TOO_DEEP + "}"
    response = signed_in.generic(
        "POST", url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=idempotency_key
    )
    assert response.status_code == 400
    assert problem(response)["code"] == "parse_error"
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert signed_in.post_once(url, {"amount": "20"}, idempotency_key=idempotency_key).status_code == 201


def test_a_body_that_is_not_utf8_is_a_parse_problem(app):
    body = b'{"username": "\xff\xfe", "password": "x"}'
    response = app.generic("POST", f"{API}auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert problem(response)["code"] == "parse_error"
    assert not AuditEvent.objects.exists()


def test_a_form_where_json_is_expected_is_refused_and_changes_nothing(signed_in):
    response = signed_in.post(f"{API}orders/top-up/", {"amount": "20"}, format="multipart", HTTP_IDEMPOTENCY_KEY=key())
    # The site reads form bodies before any view (NUL bytes); DRF then sees no JSON fields at all.
    assert response.status_code in (400, 415)
    assert problem(response)["code"] in ("validation_error", "unsupported_media_type")
    assert not Order.objects.exists()


@pytest.mark.parametrize("body", ["null", "[1, 2]", '"amount"', '{"amount": NaN}'])
def test_json_that_is_not_an_object_of_fields_is_refused(signed_in, body):
    response = signed_in.generic(
        "POST", f"{API}orders/top-up/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key()
    )
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_a_body_over_the_memory_limit_is_a_413_problem_that_changes_nothing(signed_in, settings):
    idempotency_key = key()
    url = f"{API}orders/top-up/"
    body = '{"amount": "20", "note": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = signed_in.generic(
        "POST", url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=idempotency_key
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert problem(response)["code"] == "request_too_large"
    assert not Order.objects.exists()
    assert signed_in.post_once(url, {"amount": "20"}, idempotency_key=idempotency_key).status_code == 201
