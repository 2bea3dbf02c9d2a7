"""The wallet ledger: append-only, never negative, once per (kind, reference)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing import services
from billing.models import LedgerEntry, Wallet
from billing.services.errors import ERR_INSUFFICIENT_BALANCE
from tests.billing.conftest import fund, ledger_problems, wallet_balance
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def test_entries_move_the_balance_and_record_the_running_balance():
    user = CustomerFactory()

    top_up = fund(user, "100")
    charge = services.ledger_append(user=user, kind="charge", amount=Decimal("-30"), reference="R1")

    assert (top_up.amount, top_up.balance_after) == (Decimal("100.00"), Decimal("100.00"))
    assert (charge.amount, charge.balance_after) == (Decimal("-30.00"), Decimal("70.00"))
    assert wallet_balance(user) == Decimal("70.00")


def test_a_charge_larger_than_the_balance_is_refused_and_changes_nothing():
    user = CustomerFactory()
    fund(user, "20")

    with pytest.raises(services.BillingError) as refused:
        services.ledger_append(user=user, kind="charge", amount=Decimal("-20.01"), reference="R-BIG")

    assert str(refused.value) == str(ERR_INSUFFICIENT_BALANCE)
    assert wallet_balance(user) == Decimal("20.00")
    assert not LedgerEntry.objects.filter(reference="R-BIG").exists()


def test_a_charge_of_exactly_the_balance_leaves_zero():
    user = CustomerFactory()
    fund(user, "20")

    services.ledger_append(user=user, kind="charge", amount=Decimal("-20"), reference="R-ALL")

    assert wallet_balance(user) == Decimal("0.00")


def test_the_database_refuses_a_negative_balance_written_directly():
    user = CustomerFactory()
    wallet = services.wallet_get_or_create(user=user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("-1"))

    assert wallet_balance(user) == Decimal("0.00")


def test_the_database_refuses_an_entry_whose_sign_contradicts_its_kind():
    user = CustomerFactory()
    wallet = services.wallet_get_or_create(user=user)

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            wallet=wallet, kind="charge", amount=Decimal("5"), balance_after=Decimal("5"), reference="X"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            wallet=wallet, kind="topup", amount=Decimal("-5"), balance_after=Decimal("0"), reference="Y"
        )

    assert not LedgerEntry.objects.exists()


def test_the_same_kind_and_reference_twice_raises_and_changes_nothing():
    user = CustomerFactory()
    services.ledger_append(user=user, kind="topup", amount=Decimal("50"), reference="T-1")

    with pytest.raises(services.DuplicateLedgerEntry):
        services.ledger_append(user=user, kind="topup", amount=Decimal("50"), reference="T-1")

    assert wallet_balance(user) == Decimal("50.00")
    assert LedgerEntry.objects.filter(reference="T-1").count() == 1


def test_a_duplicate_reference_of_another_customer_is_also_refused():
    first, second = CustomerFactory(), CustomerFactory()
    services.ledger_append(user=first, kind="topup", amount=Decimal("50"), reference="T-SHARED")

    with pytest.raises(services.DuplicateLedgerEntry):
        services.ledger_append(user=second, kind="topup", amount=Decimal("50"), reference="T-SHARED")

    assert wallet_balance(second) == Decimal("0.00")


def test_the_same_reference_may_carry_entries_of_different_kinds():
    user = CustomerFactory()
    services.ledger_append(user=user, kind="topup", amount=Decimal("50"), reference="R-ORDER")
    services.ledger_append(user=user, kind="charge", amount=Decimal("-50"), reference="R-ORDER")

    assert LedgerEntry.objects.filter(reference="R-ORDER").count() == 2
    assert wallet_balance(user) == Decimal("0.00")


def test_the_invariant_check_catches_a_balance_changed_behind_the_ledgers_back():
    """The autouse fixture's check is not vacuous: a drifted balance is reported."""
    user = CustomerFactory()
    fund(user, "10")

    with pytest.raises(Rollback), transaction.atomic():
        Wallet.objects.filter(user=user).update(balance=Decimal("15"))
        problems = ledger_problems()
        raise Rollback

    assert len(problems) == 1
    assert "balance 15.00 but its entries sum to 10.00" in problems[0]
    assert ledger_problems() == []


def test_the_invariant_check_catches_a_wrong_running_balance():
    user = CustomerFactory()
    fund(user, "10")
    entry = fund(user, "5")

    with pytest.raises(Rollback), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(balance_after=Decimal("5"))
        problems = ledger_problems()
        raise Rollback

    assert any(f"entry {entry.pk}" in problem for problem in problems)


@pytest.fixture
def admin_client_for_superuser(client):
    admin = make_staff("admin")
    assert admin.is_superuser
    client.force_login(admin)
    return client


def test_admin_cannot_edit_or_delete_a_ledger_entry(admin_client_for_superuser):
    client = admin_client_for_superuser
    user = CustomerFactory()
    entry = fund(user, "10")
    change_url = f"/admin/billing/ledgerentry/{entry.pk}/change/"
    delete_url = f"/admin/billing/ledgerentry/{entry.pk}/delete/"

    listing = client.get("/admin/billing/ledgerentry/")
    read_only = client.get(change_url)
    edit = client.post(change_url, {"kind": "topup", "amount": "1000", "balance_after": "1000", "reference": "X"})
    delete_page = client.get(delete_url)
    delete = client.post(delete_url, {"post": "yes"})
    add = client.get("/admin/billing/ledgerentry/add/")

    assert listing.status_code == 200
    assert read_only.status_code == 200  # visible, but without any save button
    assert b'name="_save"' not in read_only.content
    assert (edit.status_code, delete_page.status_code, delete.status_code, add.status_code) == (403, 403, 403, 403)
    entry.refresh_from_db()
    assert (entry.amount, entry.reference) == (Decimal("10.00"), entry.reference)
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()
    assert wallet_balance(user) == Decimal("10.00")


def test_admin_cannot_edit_a_wallet_balance(admin_client_for_superuser):
    client = admin_client_for_superuser
    user = CustomerFactory()
    fund(user, "10")
    wallet = Wallet.objects.get(user=user)

    edit = client.post(f"/admin/billing/wallet/{wallet.pk}/change/", {"balance": "999"})
    delete = client.post(f"/admin/billing/wallet/{wallet.pk}/delete/", {"post": "yes"})

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert wallet_balance(user) == Decimal("10.00")
