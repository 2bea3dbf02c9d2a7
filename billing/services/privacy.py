"""Billing's part of erasing a customer's personal data: what the money records do not need."""

from billing.models import Payment, ProviderNotification, SavedCard

# What a provider's callback is kept with once its payer is erased: which trade or refund,
# its state, amounts and times (Alipay's and WeChat Pay's names, and the sandbox's). The
# rest names the payer: Alipay's buyer_id and buyer_logon_id, WeChat Pay's payer openid,
# the account a refund went to (user_received_account).
NOTIFICATION_FACTS = frozenset(
    {
        # Alipay
        "notify_id", "notify_time", "notify_type", "app_id", "trade_no", "out_trade_no", "out_biz_no",
        "trade_status", "total_amount", "receipt_amount", "refund_fee", "gmt_create", "gmt_payment",
        "gmt_refund", "gmt_close",
        # WeChat Pay (the decrypted resource inside)
        "id", "create_time", "event_type", "resource_type", "resource", "mchid", "appid", "transaction_id",
        "trade_type", "trade_state", "success_time", "amount", "total", "payer_total", "refund", "payer_refund",
        "currency", "payer_currency", "out_refund_no", "refund_id", "refund_status",
        # The sandbox
        "event_id",
    }
)  # fmt: skip


def _facts_only(value):
    if isinstance(value, dict):
        return {key: _facts_only(item) for key, item in value.items() if key in NOTIFICATION_FACTS}
    return value


def billing_erase_personal_data(*, user_id: int) -> dict:
    """Erase what billing holds about a customer the caller has locked for erasure (the purge).

    Saved cards go (their tokens could still charge the card); the payments keep method,
    amount, status and the provider's transaction id but lose the card's last digits; the
    providers' callbacks about the customer's payments keep only the facts of the trade.
    Orders, payments, refunds, receipts, the wallet and its ledger stay: billing law keeps
    them. Written by UPDATE, which leaves ``Payment.updated_at`` (the day reconciliation
    matches a payment on) as it was.
    """
    saved_cards, _by_model = SavedCard.objects.filter(user_id=user_id).delete()
    payments = Payment.objects.filter(order__user_id=user_id)
    card_digits = payments.exclude(card_last4="").update(card_last4="")
    notifications = list(
        ProviderNotification.objects.filter(out_trade_no__in=payments.values("out_trade_no")).order_by("pk")
    )
    stripped = []
    for notification in notifications:
        facts = _facts_only(notification.payload)
        if facts != notification.payload:
            notification.payload = facts
            stripped.append(notification)
    ProviderNotification.objects.bulk_update(stripped, ["payload"], batch_size=500)
    return {"saved_cards": saved_cards, "payment_card_digits": card_digits, "provider_notifications": len(stripped)}
