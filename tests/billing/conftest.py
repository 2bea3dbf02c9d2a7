"""Shared fixtures of the billing tests.

The autouse ``_ledger_sum_equals_balance`` fixture checks the wallet invariant after
every test that touches the database: each wallet's balance is the sum of its ledger
entries, and each entry's ``balance_after`` is the running sum up to it.
"""

import functools
import itertools
import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.html import escape

from accounts import services as account_services
from billing import services
from billing.models import LedgerEntry, Order, Plan, Wallet
from reviews import pii
from reviews.demo import resident_id
from reviews.models import Submission
from tests.factories import CustomerFactory, make_line, make_staff

ID_NUMBER = resident_id()
_references = itertools.count(1)


def ledger_problems() -> list[str]:
    """Every wallet whose balance or running balances disagree with its entries."""
    problems = []
    running: dict[int, Decimal] = {}
    for entry in LedgerEntry.objects.order_by("wallet_id", "pk"):
        running[entry.wallet_id] = running.get(entry.wallet_id, Decimal("0.00")) + entry.amount
        if entry.balance_after != running[entry.wallet_id]:
            problems.append(
                f"wallet {entry.wallet_id}: entry {entry.pk} ({entry.kind} {entry.amount}) says balance_after "
                f"{entry.balance_after}, the running sum is {running[entry.wallet_id]}"
            )
    for wallet in Wallet.objects.order_by("pk"):
        total = running.get(wallet.pk, Decimal("0.00"))
        if wallet.balance != total:
            problems.append(f"wallet {wallet.pk}: balance {wallet.balance} but its entries sum to {total}")
        if wallet.balance < 0:
            problems.append(f"wallet {wallet.pk}: negative balance {wallet.balance}")
    return problems


@pytest.fixture(autouse=True)
def _ledger_sum_equals_balance(request):
    """After every database test: each wallet's balance equals the sum of its entries."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    # Depend on the database fixture so that this check runs before its teardown (rollback or flush).
    request.getfixturevalue("_django_db_helper")
    yield
    problems = ledger_problems()
    assert not problems, "ledger and balances disagree:\n" + "\n".join(problems)


def verified_customer(**kwargs):
    """A customer whose real name is verified, with one active line: (user, line)."""
    user = CustomerFactory(**kwargs)
    line, _code = make_line(owner=user)
    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    line.refresh_from_db()
    user.refresh_from_db()
    return user, line


def fund(user, amount) -> LedgerEntry:
    """Put money in the user's wallet through a top-up ledger entry."""
    return services.ledger_append(
        user=user, kind="topup", amount=Decimal(amount), reference=f"TEST-TOPUP-{next(_references)}"
    )


def key() -> str:
    return uuid.uuid4().hex


def approved_identity(user, id_number: str = ID_NUMBER) -> Submission:
    """An approved verification submission carrying this ID number's blind index (what a clerk checks)."""
    now = timezone.now()
    return Submission.objects.create(
        user=user,
        status=Submission.Status.APPROVED,
        full_name="王小明",
        id_number_encrypted=pii.encrypt(id_number),
        id_number_masked=pii.mask_id_number(id_number),
        id_number_index=pii.id_number_blind_index(id_number),
        contact_phone=user.phone.as_e164,
        due_at=now,
        decided_by=make_staff("reviewer"),
        decided_at=now,
    )


def renewal_order(user, line, plan, term_months=1, **kwargs) -> Order:
    return services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plan.pk, term_months=term_months, idempotency_key=key(), **kwargs
    )


def page_shows(response, message) -> bool:
    """Whether the page shows this message (compared in English, the language the ``english`` client reads)."""
    with translation.override("en"):
        return escape(str(message)) in response.content.decode()


def wallet_balance(user) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")


def charges_total(user) -> Decimal:
    return LedgerEntry.objects.filter(wallet__user=user, kind="charge").aggregate(total=Sum("amount"))[
        "total"
    ] or Decimal("0.00")


@pytest.fixture
def plans():
    """The seeded plans on sale, by code: basic ¥30, standard ¥60, premium ¥100 a month."""
    return {plan.code: plan for plan in Plan.objects.filter(is_current=True)}


@pytest.fixture
def customer_line():
    return verified_customer()


@pytest.fixture
def english(client, settings):
    """Pages in English, so that assertions compare the English messages."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager running the block's on-commit callbacks (sends what was queued)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)
