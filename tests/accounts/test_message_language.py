"""Messages are stored by kind and parameters and read in the reader's language; the language is the account's."""

import importlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation

from accounts import message_kinds, services
from accounts.models import Notification, OutboundMessage, User
from billing.forms import _term_choices
from tests.accounts.conftest import STRONG_PASSWORD
from tests.factories import PASSWORD, CustomerFactory, make_line

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def switch_language(client, language):
    return client.post("/i18n/setlang/", {"language": language, "next": "/notifications/"})


def test_a_message_written_in_chinese_reads_in_english_after_the_switch(client):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    services.notify(user=customer, kind=message_kinds.LINE_EXPIRED, params={"number": line.msisdn.as_national})
    client.force_login(customer)

    chinese = client.get("/notifications/").content.decode()
    assert "您的号码已到期" in chinese and f"号码 {line.msisdn.as_national} 已到期" in chinese

    assert switch_language(client, "en").status_code == 302
    english = client.get("/notifications/").content.decode()
    assert "Your line has expired" in english
    assert f"Line {line.msisdn.as_national} has expired. Renew it to bring it back into service." in english
    assert "您的号码已到期" not in english
    # The recent messages of the account centre too.
    assert "Your line has expired" in client.get("/account/").content.decode()


def test_the_switch_is_remembered_on_the_account_and_follows_the_person_to_a_new_browser(client):
    customer = CustomerFactory()
    client.force_login(customer)

    switch_language(client, "en")

    customer.refresh_from_db()
    assert customer.language == "en"
    elsewhere = Client()  # no language cookie
    assert elsewhere.get("/accounts/login/")["Content-Language"] == "zh-hans"
    elsewhere.post("/accounts/login/", {"username": customer.phone.as_national, "password": PASSWORD})
    assert elsewhere.get("/account/")["Content-Language"] == "en"


def test_an_unsupported_language_changes_nothing_on_the_account(client):
    customer = CustomerFactory(language="en")
    client.force_login(customer)

    switch_language(client, "fr")

    customer.refresh_from_db()
    assert customer.language == "en"


def test_switching_signed_out_sets_only_the_cookie(client):
    response = switch_language(client, "en")

    assert response.cookies["django_language"].value == "en"
    assert not User.objects.exclude(language="").exists()


def test_sms_and_email_are_written_in_the_customers_language(sent, sms_outbox):
    english = CustomerFactory(phone="+8613800138001", email="en@example.com", language="en")
    chinese = CustomerFactory(phone="+8613800138002", email="zh@example.com")

    with sent():
        for customer in (english, chinese):
            services.notify(user=customer, kind=message_kinds.BALANCE_REFUNDED, params={"amount": "12.50"})

    texts = {message["to"]: message["text"] for message in sms_outbox}
    assert texts["+8613800138001"] == (
        "[Heyon] Balance refunded: ¥12.50 from your wallet will be returned to your original payment method "
        "within 7 days."
    )
    assert texts["+8613800138002"].startswith("【Heyon】")
    assert "12.50" in texts["+8613800138002"] and "Balance" not in texts["+8613800138002"]
    emails = {row.recipient: row for row in OutboundMessage.objects.filter(channel="email")}
    assert (emails["en@example.com"].language, emails["zh@example.com"].language) == ("en", "zh-hans")
    assert emails["en@example.com"].subject == "Balance refunded"


def test_registering_in_english_sends_the_code_in_english(client, sent, sms_outbox):
    client.cookies["django_language"] = "en"

    with sent():
        client.post(
            "/accounts/register/",
            {"phone": "138 0013 8000", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
        )

    assert User.objects.get(phone="+8613800138000").language == "en"
    assert sms_outbox[-1]["text"].startswith("[Heyon] Your Heyon code is ")
    assert "(Confirm registration)" in sms_outbox[-1]["text"]


def test_a_one_time_code_is_never_stored_in_the_parameters(sent, sms_outbox):
    customer = CustomerFactory()
    with sent():
        services.one_time_code_issue(user=customer, purpose="login", channel="sms", ip="10.0.0.9")

    row = OutboundMessage.objects.get()
    code = sms_outbox[-1]["text"].split("验证码为 ")[1][:6]
    assert code.isdigit()
    assert row.kind == "code.one_time" and "code" not in row.params
    assert code not in str(row.params) and code not in row.body


@pytest.mark.parametrize(
    ("count", "english"),
    [
        (1, "Line 138 0013 8000 is now active and valid for one year."),
        (2, "Lines 138 0013 8000, 139 0013 9000 are now active and valid for one year."),
    ],
)
def test_line_active_has_english_plural_forms_and_one_chinese_form(count, english):
    numbers = ", ".join(["138 0013 8000", "139 0013 9000"][:count])
    params = {"numbers": numbers, "count": count}

    assert message_kinds.render("line.active", params, language="en").body == english
    assert (
        message_kinds.render("line.active", params, language="zh-hans").body == f"号码 {numbers} 已激活，有效期一年。"
    )


def test_code_minutes_are_pluralised():
    params = {"code": "123456", "purpose": message_kinds.msgid_param("Sign in")}

    assert "expires in 1 minute." in message_kinds.render("code.one_time", {**params, "minutes": 1}, language="en").body
    assert (
        "expires in 10 minutes." in message_kinds.render("code.one_time", {**params, "minutes": 10}, language="en").body
    )
    assert (
        "（用于登录），10 分钟内有效"
        in message_kinds.render("code.one_time", {**params, "minutes": 10}, language="zh-hans").body
    )


def test_renewal_terms_read_one_month_and_three_months():
    with translation.override("en"):
        labels = [str(label) for _months, label in _term_choices()]
    with translation.override("zh-hans"):
        chinese = [str(label) for _months, label in _term_choices()]

    assert labels[:2] == ["1 month", "3 months"]
    assert chinese[:2] == ["1 个月", "3 个月"]


def test_reasons_and_dates_render_in_the_readers_language_and_time_zone():
    params = message_kinds.encode_params(
        {
            "reasons": message_kinds.texts_param(
                {"zh-hans": "照片模糊", "en": "The photo is blurry"}, {"zh-hans": "反光", "en": "Glare"}
            ),
            "follow_up": message_kinds.msgid_param(message_kinds.FOLLOW_UP_RETRY),
            "note": "请在白纸上拍摄。",
        }
    )

    english = message_kinds.render("verification.rejected", params, language="en")
    chinese = message_kinds.render("verification.rejected", params, language="zh-hans")
    assert english.body == (
        "Reason: The photo is blurry; Glare. Please take new photos and submit again.\n请在白纸上拍摄。"
    )
    assert "照片模糊；反光" in chinese.body and "The photo" not in chinese.body

    late_evening_utc = datetime(2026, 12, 31, 17, 30, tzinfo=ZoneInfo("UTC"))  # 1 Jan 01:30 in Shanghai
    ends = message_kinds.render(
        "line.ends_soon",
        {"number": "138 0013 8000", "end": message_kinds.date_param(late_evening_utc)},
        language="en",
    )
    assert "valid until 2027-01-01." in ends.body


def test_an_old_message_without_a_kind_keeps_the_text_it_was_written_with(client):
    customer = CustomerFactory()
    Notification.objects.create(user=customer, legacy_subject="旧消息标题", legacy_body="旧消息正文")
    client.force_login(customer)
    switch_language(client, "en")

    page = client.get("/notifications/").content.decode()

    assert "旧消息标题" in page and "旧消息正文" in page


def test_the_migration_gives_old_parameterless_messages_their_kind():
    customer = CustomerFactory()
    welcome = Notification.objects.create(
        user=customer, legacy_subject="您的密码已修改", legacy_body="如非本人操作，请立即拨打客服热线。"
    )
    other = Notification.objects.create(user=customer, legacy_subject="您的密码已修改", legacy_body="别的内容")
    migration = importlib.import_module("accounts.migrations.0014_messages_by_kind_language_and_sms_receipts")

    migration.old_messages_to_kinds(apps, None)

    welcome.refresh_from_db()
    other.refresh_from_db()
    assert (welcome.kind, welcome.legacy_subject) == ("account.password_changed", "")
    with translation.override("en"):
        assert welcome.subject == "Your password was changed"
    assert (other.kind, other.legacy_subject) == ("", "您的密码已修改")


def test_an_unknown_kind_is_refused_and_writes_nothing():
    customer = CustomerFactory()

    with pytest.raises(ValueError, match="unknown message kind"):
        services.notify(user=customer, kind="no.such.kind")

    assert not Notification.objects.exists() and not OutboundMessage.objects.exists()


def test_the_inbox_renders_a_page_of_messages_in_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    customer = CustomerFactory()
    for n in range(15):
        services.notify(user=customer, kind=message_kinds.LINE_EXPIRED, params={"number": f"138 0013 80{n:02d}"})
    client.force_login(customer)
    client.get("/notifications/")

    with django_assert_max_num_queries(8):
        page = client.get("/notifications/").content.decode()

    assert page.count("您的号码已到期") == 15


def test_every_kind_renders_in_both_languages_with_its_parameters():
    sample = {
        "number": "138 0013 8000",
        "numbers": "138 0013 8000",
        "count": 1,
        "code": "123456",
        "purpose": message_kinds.msgid_param("Sign in"),
        "minutes": 10,
        "point": "三里屯营业厅",
        "reasons": message_kinds.texts_param({"zh-hans": "反光", "en": "Glare"}),
        "follow_up": message_kinds.msgid_param(message_kinds.FOLLOW_UP_FINAL),
        "amount": "30.00",
        "balance": "10.00",
        "end": message_kinds.date_param(datetime(2027, 5, 1, tzinfo=SHANGHAI)),
        "time": message_kinds.datetime_param(datetime(2027, 4, 30, 9, 0, tzinfo=SHANGHAI)),
        "reason": "资料不全",
        "text": "您好",
        "email": "li.lei@example.com",
    }
    for key, kind in message_kinds.KINDS.items():
        for language in ("zh-hans", "en"):
            rendered = message_kinds.render(key, sample, language=language)
            assert rendered.subject and rendered.body, key
            assert "%(" not in rendered.body, key
        assert set(kind.sms_params) <= set(sample), key


def test_erasing_a_customer_erases_the_values_of_their_outbound_messages_too():
    customer = CustomerFactory(email="li.lei@example.com")
    services.notify(user=customer, kind=message_kinds.SUPPORT_ANSWERED, params={"text": "您的身份证号已核对"})

    with transaction.atomic():
        services.customer_erase_personal_data(user=customer, now=timezone.now(), report={})

    assert OutboundMessage.objects.count() == 2
    assert not OutboundMessage.objects.exclude(params={}).exists()
    assert not OutboundMessage.objects.exclude(recipient="erased").exists()
