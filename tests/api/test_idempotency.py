"""Idempotency-Key: the same key and body replays the first answer; another body is refused; races run once."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Line
from api.idempotency import idempotency_key_claim, idempotency_key_complete, idempotency_key_release
from api.models import IdempotencyKey
from api.problems import Problem
from billing.models import Order
from tests.api.conftest import API, AppClient, problem
from tests.billing.conftest import verified_customer
from tests.factories import CustomerFactory, make_line
from tests.races import RACE_MARKS, errors, run_together, values


@pytest.mark.django_db
class TestOneKey:
    def test_same_key_same_body_replays_the_first_response_and_creates_one_order(self, app):
        app.sign_in_as(CustomerFactory())
        key = uuid.uuid4().hex
        first = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        second = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second["Idempotent-Replayed"] == "true"
        assert Order.objects.count() == 1

    def test_same_key_other_body_is_refused_with_422_and_changes_nothing(self, app):
        app.sign_in_as(CustomerFactory())
        key = uuid.uuid4().hex
        app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        response = app.post_once(f"{API}orders/top-up/", {"amount": "80.00"}, idempotency_key=key)
        assert response.status_code == 422
        assert problem(response)["code"] == "idempotency_key_reused"
        assert list(Order.objects.values_list("amount", flat=True)) == [50]

    def test_a_key_is_per_customer(self, app):
        key = uuid.uuid4().hex
        for _customer in range(2):
            app.sign_in_as(CustomerFactory())
            assert app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key).status_code == 201
        assert Order.objects.count() == 2

    def test_a_missing_key_is_refused_before_anything_happens(self, app):
        app.sign_in_as(CustomerFactory())
        response = app.post(f"{API}orders/top-up/", {"amount": "50.00"})
        assert response.status_code == 400
        assert problem(response)["code"] == "idempotency_key_required"
        assert not Order.objects.exists()

    def test_a_refusal_is_replayed_too(self, app):
        customer = CustomerFactory()
        app.sign_in_as(customer)
        key = uuid.uuid4().hex
        first = app.post_once(f"{API}lines/", {"activation_code": "ABCD-EFGH-JKMN-PQRS"}, idempotency_key=key)
        assert first.status_code == 422
        assert problem(first)["code"] == "line.code_unknown"
        _line, code = make_line()
        # The key stands for the first answer even once the request would succeed.
        replay = app.post_once(f"{API}lines/", {"activation_code": "ABCD-EFGH-JKMN-PQRS"}, idempotency_key=key)
        assert replay.status_code == 422
        assert replay.json() == first.json()
        assert app.post_once(f"{API}lines/", {"activation_code": code}).status_code == 201

    def test_a_request_still_running_under_the_key_gets_409(self, app):
        customer = CustomerFactory()
        app.sign_in_as(customer)
        key = uuid.uuid4().hex
        first = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        IdempotencyKey.objects.filter(user=customer, key=key).update(status="in_progress", response_status=None)
        response = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        assert first.status_code == 201
        assert response.status_code == 409
        assert problem(response)["code"] == "idempotency_key_in_progress"

    def test_a_key_older_than_a_day_starts_afresh(self, app, travel):
        customer = CustomerFactory()
        app.sign_in_as(customer)
        key = uuid.uuid4().hex
        app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        travel(timedelta(hours=25))
        app.sign_in_as(customer)
        response = app.post_once(f"{API}orders/top-up/", {"amount": "80.00"}, idempotency_key=key)
        assert response.status_code == 201
        assert Order.objects.count() == 2

    def test_a_request_that_died_mid_way_runs_again_on_the_order_it_made(self, app, travel):
        customer = CustomerFactory()
        app.sign_in_as(customer)
        key = uuid.uuid4().hex
        first = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        # The process was killed after the order committed and before the answer was stored.
        IdempotencyKey.objects.filter(user=customer, key=key).update(status="in_progress", response_status=None)
        travel(timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS + 1))
        app.sign_in_as(customer)
        again = app.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)
        assert again.status_code == 201
        assert again.json()["number"] == first.json()["number"]
        assert Order.objects.count() == 1

    def test_a_renewal_that_died_mid_way_runs_again_on_the_order_it_made(self, app, travel, plans):
        customer, line = verified_customer()
        app.sign_in_as(customer)
        key = uuid.uuid4().hex
        body = {"line": line.pk, "plan": plans["basic"].pk, "term_months": 1}
        first = app.post_once(f"{API}orders/renewal/", body, idempotency_key=key)
        assert first.status_code == 201
        IdempotencyKey.objects.filter(user=customer, key=key).update(status="in_progress", response_status=None)
        travel(timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS + 1))
        app.sign_in_as(customer)
        again = app.post_once(f"{API}orders/renewal/", body, idempotency_key=key)
        assert again.json()["number"] == first.json()["number"]
        assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_request_overtaken_after_its_lease_neither_frees_nor_answers_for_the_key(travel):
    customer = CustomerFactory()
    slow, run = idempotency_key_claim(user=customer, key="k", fingerprint="f")
    assert run
    travel(timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS + 1))
    retry, run = idempotency_key_claim(user=customer, key="k", fingerprint="f")
    assert run and retry.pk == slow.pk
    # The slow first request ends at last, with a 5xx or an answer: the retry still holds the key.
    idempotency_key_release(record=slow)
    idempotency_key_complete(record=slow, status_code=201, body=b"{}", content_type="application/json")
    held = IdempotencyKey.objects.get(pk=retry.pk)
    assert held.status == IdempotencyKey.Status.IN_PROGRESS
    with pytest.raises(Problem) as refused:
        idempotency_key_claim(user=customer, key="k", fingerprint="f")
    assert refused.value.status_code == 409
    idempotency_key_complete(record=retry, status_code=201, body=b"{}", content_type="application/json")
    assert IdempotencyKey.objects.get(pk=retry.pk).status == IdempotencyKey.Status.DONE


class TestTwoAtOnce:
    pytestmark = RACE_MARKS

    def test_two_requests_with_one_key_run_the_action_once(self):
        customer = CustomerFactory()
        key = uuid.uuid4().hex
        clients = []
        for _client in range(2):
            client = AppClient()
            client.sign_in_as(customer)
            clients.append(client)

        def top_up(client):
            return lambda: client.post_once(f"{API}orders/top-up/", {"amount": "50.00"}, idempotency_key=key)

        results = run_together(*(top_up(client) for client in clients))
        assert not errors(results)
        codes = sorted(response.status_code for response in values(results))
        # One ran; the other either waited and replayed it (201) or found it running (409).
        assert codes in ([201, 201], [201, 409])
        assert Order.objects.filter(user=customer).count() == 1
        assert connection.vendor == "postgresql"

    def test_two_line_attachments_with_one_key_attach_once(self):
        customer = CustomerFactory()
        line, code = make_line()
        key = uuid.uuid4().hex
        clients = []
        for _client in range(2):
            client = AppClient()
            client.sign_in_as(customer)
            clients.append(client)
        results = run_together(
            *(
                (lambda c=client: c.post_once(f"{API}lines/", {"activation_code": code}, idempotency_key=key))
                for client in clients
            )
        )
        assert not errors(results)
        assert sorted(r.status_code for r in values(results)) in ([201, 201], [201, 409])
        assert Line.objects.get(pk=line.pk).owner_id == customer.pk


@pytest.mark.django_db
def test_purge_forgets_keys_older_than_a_day_and_expired_tokens(app, travel):
    from django.core.management import call_command
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    customer = CustomerFactory()
    app.sign_in_as(customer)
    app.post_once(f"{API}orders/top-up/", {"amount": "50.00"})
    call_command("purge_api_records")
    assert IdempotencyKey.objects.count() == 1
    travel(timedelta(days=31))
    call_command("purge_api_records")
    assert not IdempotencyKey.objects.exists()
    assert not OutstandingToken.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_invalid_input_leaves_the_key_free_for_the_corrected_request(app):
    app.sign_in_as(CustomerFactory())
    key = uuid.uuid4().hex
    refused = app.post_once(f"{API}orders/top-up/", {"amount": "0"}, idempotency_key=key)
    assert refused.status_code == 400
    corrected = app.post_once(f"{API}orders/top-up/", {"amount": "20"}, idempotency_key=key)
    assert corrected.status_code == 201
    assert Order.objects.count() == 1
