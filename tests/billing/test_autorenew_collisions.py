"""Auto-renew survives a unique constraint refusing a chunk (colliding random order numbers)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Line
from billing import services
from billing.models import LedgerEntry, Order
from billing.services import autorenew
from billing.services.orders import new_order_number
from tests.billing.conftest import fund, verified_customer

pytestmark = pytest.mark.django_db


def due_line():
    user, line = verified_customer()
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))
    fund(user, "100")
    return user, line


def test_an_order_number_that_collides_rolls_the_chunk_back_and_it_is_retried(monkeypatch):
    lines = [due_line()[1] for _ in range(3)]
    taken = services.topup_order_create(user=lines[0].owner, amount=Decimal("50"), idempotency_key="top-up-1").number
    numbers = iter([taken])
    monkeypatch.setattr(autorenew, "new_order_number", lambda now=None: next(numbers, None) or new_order_number(now))

    counts = services.autorenew_run()

    assert counts["renewed"] == 3
    assert Order.objects.filter(channel=Order.Channel.AUTO).count() == 3
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).count() == 3


def test_a_chunk_refused_every_time_stops_the_run_and_charges_nothing(monkeypatch):
    user, _line = due_line()
    taken = services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key="top-up-1").number
    monkeypatch.setattr(autorenew, "new_order_number", lambda now=None: taken)

    with pytest.raises(autorenew.IntegrityError):
        services.autorenew_run()

    assert not Order.objects.filter(channel=Order.Channel.AUTO).exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).exists()
