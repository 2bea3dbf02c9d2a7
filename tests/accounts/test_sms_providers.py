"""Alibaba Cloud and Tencent Cloud SMS through their own SDKs, against a loopback fake that checks signatures."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import checks, message_kinds, outbox, services
from accounts.models import OutboundMessage, SmsDailyCount
from tests.accounts import fake_sms_providers as fake
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
HONG_KONG = "+85261234567"
# One template per kind that goes by SMS; an English one for the line-expired message.
TEMPLATES = {key: f"SMS_{n:04d}" for n, key in enumerate(sorted(message_kinds.KINDS))}
TEMPLATES["line.expired"] = {"zh-hans": "SMS_EXP_ZH", "en": "SMS_EXP_EN"}
SAMPLE_PARAMS = {
    "number": "138 0013 8000",
    "numbers": "138 0013 8000",
    "count": 1,
    "minutes": 10,
    "purpose": message_kinds.msgid_param("Sign in"),
    "point": "三里屯营业厅",
    "reasons": message_kinds.texts_param({"zh-hans": "反光", "en": "Glare"}),
    "follow_up": message_kinds.msgid_param(message_kinds.FOLLOW_UP_RETRY),
    "amount": "30.00",
    "balance": "10.00",
    "end": {"$date": "2027-05-01T00:00:00+08:00"},
    "reason": "资料不全",
    "text": "您好",
    "email": "li.ming@example.com",
    "code": "HY7K-29QD-M4XP-81ZT",  # an activation code; a one-time code's is never stored
}


@pytest.fixture
def providers(settings, tmp_path):
    server = fake.FakeSmsProviders().start()
    secret_file = tmp_path / "aliyun-secret"
    secret_file.write_text(fake.ALIYUN_SECRET + "\n", encoding="utf-8")
    settings.SMS_TEMPLATES = TEMPLATES
    settings.SMS_SIGN_NAME = "Heyon"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = fake.ALIYUN_KEY_ID
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = ""
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET_FILE = str(secret_file)  # the secret from a file, as in production
    settings.ALIYUN_SMS_ENDPOINT = server.endpoint
    settings.ALIYUN_SMS_PROTOCOL = "http"
    settings.TENCENT_SMS_SECRET_ID = fake.TENCENT_SECRET_ID
    settings.TENCENT_SMS_SECRET_KEY = fake.TENCENT_SECRET_KEY
    settings.TENCENT_SMS_SDK_APP_ID = "1400000001"
    settings.TENCENT_SMS_ENDPOINT = server.endpoint
    settings.TENCENT_SMS_PROTOCOL = "http"
    settings.SMS_PROVIDER_TIMEOUT_SECONDS = 5
    yield server
    server.stop()


def queue(kind, params=None, *, recipient=PHONE, language="zh-hans", code=""):
    return services.outbox_queue(
        channel="sms", recipient=recipient, kind=kind, params=params, language=language, pending_code=code
    )


def send(row) -> OutboundMessage:
    outbox.outbox_send(ids=[row.pk])
    row.refresh_from_db()
    return row


# ---- Alibaba Cloud ------------------------------------------------------------------------------


def test_aliyun_sends_each_kinds_template_with_its_parameters(providers, settings):
    settings.SMS_BACKEND = "aliyun"
    sms_kinds = [kind for kind in message_kinds.KINDS.values() if kind.sms]
    settings.SMS_DAILY_CAP_PER_NUMBER = len(sms_kinds)  # every kind to one number, within the day's cap

    for kind in sms_kinds:
        row = send(queue(kind, SAMPLE_PARAMS, code="123456" if kind.secret_params else ""))
        assert row.status == OutboundMessage.Status.SENT, (kind.key, row.last_error)
        call = providers.calls_of("SendSms")[-1]
        expected_template = TEMPLATES[kind.key]["zh-hans"] if kind.key == "line.expired" else TEMPLATES[kind.key]
        assert call.params["TemplateCode"] == expected_template
        assert (call.params["PhoneNumbers"], call.params["SignName"], call.params["OutId"]) == (
            "13800138000",
            "Heyon",
            str(row.pk),
        )
        template_params = json.loads(call.params["TemplateParam"])
        assert list(template_params) == list(kind.sms_params), kind.key
        assert row.provider_message_id.endswith("^0")

    assert len(providers.calls_of("SendSms")) == len(sms_kinds)
    code_call = next(c for c in providers.calls if json.loads(c.params["TemplateParam"]).get("code"))
    assert json.loads(code_call.params["TemplateParam"]) == {"code": "123456", "minutes": "10"}
    rejected = json.loads(
        providers.calls_of("SendSms")[[k.key for k in sms_kinds].index("verification.rejected")].params["TemplateParam"]
    )
    assert rejected == {"reasons": "反光"}


def test_aliyun_picks_the_english_template_and_writes_parameters_in_english(providers, settings):
    settings.SMS_BACKEND = "aliyun"

    send(queue(message_kinds.LINE_ENDS_SOON, SAMPLE_PARAMS, recipient=HONG_KONG, language="en"))
    send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS, recipient=HONG_KONG, language="en"))

    ends, expired = providers.calls_of("SendSms")
    assert ends.params["PhoneNumbers"] == "85261234567"  # country code, no +
    assert json.loads(ends.params["TemplateParam"]) == {"number": "138 0013 8000", "end": "2027-05-01"}
    assert expired.params["TemplateCode"] == "SMS_EXP_EN"


def test_aliyun_never_stores_the_one_time_code(providers, settings, sent):
    settings.SMS_BACKEND = "aliyun"
    customer = CustomerFactory(phone=PHONE)

    with sent():
        services.one_time_code_issue(user=customer, purpose="login", channel="sms", ip="10.0.0.1")

    row = OutboundMessage.objects.get()
    sent_code = json.loads(providers.calls_of("SendSms")[0].params["TemplateParam"])["code"]
    assert len(sent_code) == 6 and sent_code.isdigit()
    assert row.status == OutboundMessage.Status.SENT and row.pending_code == ""
    assert sent_code not in json.dumps(row.params) and sent_code not in row.body


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", OutboundMessage.Status.PENDING),  # the number's minute/hour flow control
        ("isp.SYSTEM_ERROR", OutboundMessage.Status.PENDING),
        ("isv.AMOUNT_NOT_ENOUGH", OutboundMessage.Status.PENDING),  # the operator tops the account up
        ("isv.SMS_TEMPLATE_ILLEGAL", OutboundMessage.Status.PENDING),  # still under review
        ("isv.MOBILE_NUMBER_ILLEGAL", OutboundMessage.Status.FAILED),
        ("isv.BLACK_KEY_CONTROL_LIMIT", OutboundMessage.Status.FAILED),
        ("isv.DAY_LIMIT_CONTROL", OutboundMessage.Status.FAILED),
        ("isv.PARAM_LENGTH_LIMIT", OutboundMessage.Status.FAILED),
    ],
)
def test_aliyun_errors_are_retried_or_given_up_by_their_class(providers, settings, code, status):
    settings.SMS_BACKEND = "aliyun"
    providers.reply("SendSms", {"Code": code, "Message": "refused", "RequestId": "req"})

    row = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    assert row.status == status
    assert code in row.last_error and row.attempts == 1
    assert row.provider_message_id == ""


def test_aliyun_wrong_key_and_unreachable_provider_are_retried(providers, settings):
    settings.SMS_BACKEND = "aliyun"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "not-the-secret"

    refused = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    assert refused.status == OutboundMessage.Status.PENDING
    assert "SignatureDoesNotMatch" in refused.last_error

    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = fake.ALIYUN_SECRET
    settings.ALIYUN_SMS_ENDPOINT = "127.0.0.1:9"  # nothing listens there
    unreachable = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    assert unreachable.status == OutboundMessage.Status.PENDING and unreachable.last_error


def test_a_kind_without_a_template_waits_for_the_operator_to_add_one(providers, settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_TEMPLATES = {}

    row = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    assert row.status == OutboundMessage.Status.PENDING
    assert "No SMS template for 'line.expired'" in row.last_error
    assert providers.calls == []


def test_aliyun_receipts_are_polled_and_recorded_once(providers, settings):
    settings.SMS_BACKEND = "aliyun"
    delivered = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    failed = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    waiting = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    def detail(row, status, err_code=""):
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": 1,
            "SmsSendDetailDTOs": {
                "SmsSendDetailDTO": [
                    {
                        "PhoneNum": "13800138000",
                        "SendStatus": status,
                        "ErrCode": err_code,
                        "ReceiveDate": "2026-12-02 18:00:05",
                        "SendDate": "2026-12-02 18:00:01",
                        "OutId": str(row.pk),
                        "TemplateCode": "SMS_EXP_ZH",
                    }
                ]
            },
        }

    providers.reply("QuerySendDetails", detail(delivered, 3, "DELIVERED"))
    providers.reply("QuerySendDetails", detail(failed, 2, "MK:0001"))
    providers.reply("QuerySendDetails", detail(waiting, 1))
    out = StringIO()
    call_command("poll_sms_receipts", stdout=out)

    assert out.getvalue().startswith("delivered=1 undelivered=1 unknown=0")
    queries = providers.calls_of("QuerySendDetails")
    assert [q.params["BizId"] for q in queries] == [r.provider_message_id for r in (delivered, failed, waiting)]
    assert queries[0].params["SendDate"] == timezone.localtime(delivered.sent_at).strftime("%Y%m%d")
    for row in (delivered, failed, waiting):
        row.refresh_from_db()
    assert (delivered.delivery, delivered.delivery_error) == ("delivered", "")
    assert (failed.delivery, failed.delivery_error) == ("undelivered", "MK:0001")
    assert waiting.delivery == "" and waiting.delivered_at is None

    call_command("poll_sms_receipts", stdout=StringIO())  # asks only about the one still waiting
    assert len(providers.calls_of("QuerySendDetails")) == 4


# ---- Tencent Cloud ------------------------------------------------------------------------------


def test_tencent_sends_each_kinds_template_with_its_parameters_in_order(providers, settings):
    settings.SMS_BACKEND = "tencent"
    sms_kinds = [kind for kind in message_kinds.KINDS.values() if kind.sms]
    settings.SMS_DAILY_CAP_PER_NUMBER = len(sms_kinds)  # every kind to one number, within the day's cap

    for kind in sms_kinds:
        row = send(queue(kind, SAMPLE_PARAMS, code="654321" if kind.secret_params else ""))
        assert row.status == OutboundMessage.Status.SENT, (kind.key, row.last_error)
        call = providers.calls_of("SendSms")[-1]
        expected_template = TEMPLATES[kind.key]["zh-hans"] if kind.key == "line.expired" else TEMPLATES[kind.key]
        assert call.params["TemplateId"] == expected_template
        assert call.params["PhoneNumberSet"] == [PHONE]
        assert (call.params["SmsSdkAppId"], call.params["SignName"], call.params["SessionContext"]) == (
            "1400000001",
            "Heyon",
            str(row.pk),
        )
        assert len(call.params["TemplateParamSet"]) == len(kind.sms_params)
        assert row.provider_message_id.startswith("5000:")

    code_call = next(c for c in providers.calls if c.params["TemplateId"] == TEMPLATES["code.one_time"])
    assert code_call.params["TemplateParamSet"] == ["654321", "10"]
    renewal = next(c for c in providers.calls if c.params["TemplateId"] == TEMPLATES["order.renewal_paid"])
    assert renewal.params["TemplateParamSet"] == ["138 0013 8000", "2027-05-01", "30.00"]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("LimitExceeded.PhoneNumberThirtySecondLimit", OutboundMessage.Status.PENDING),
        ("LimitExceeded.PhoneNumberOneHourLimit", OutboundMessage.Status.PENDING),
        ("FailedOperation.InsufficientBalanceInSmsPackage", OutboundMessage.Status.PENDING),
        ("FailedOperation.TemplateIncorrectOrUnapproved", OutboundMessage.Status.PENDING),
        ("InternalError.Timeout", OutboundMessage.Status.PENDING),
        ("InvalidParameterValue.IncorrectPhoneNumber", OutboundMessage.Status.FAILED),
        ("FailedOperation.PhoneNumberInBlacklist", OutboundMessage.Status.FAILED),
        ("LimitExceeded.PhoneNumberDailyLimit", OutboundMessage.Status.FAILED),
        ("FailedOperation.ContainSensitiveWord", OutboundMessage.Status.FAILED),
    ],
)
def test_tencent_per_number_errors_are_retried_or_given_up_by_their_class(providers, settings, code, status):
    settings.SMS_BACKEND = "tencent"
    providers.reply(
        "SendSms",
        {
            "Response": {
                "SendStatusSet": [
                    {"SerialNo": "", "PhoneNumber": PHONE, "Fee": 0, "Code": code, "Message": "no", "IsoCode": "CN"}
                ],
                "RequestId": "req",
            }
        },
    )

    row = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    assert row.status == status
    assert code in row.last_error


def test_tencent_request_errors_are_retried(providers, settings):
    settings.SMS_BACKEND = "tencent"
    providers.reply(
        "SendSms", {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}, "RequestId": "r"}}
    )
    throttled = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    settings.TENCENT_SMS_SECRET_KEY = "not-the-key"
    forged = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    assert throttled.status == OutboundMessage.Status.PENDING and "RequestLimitExceeded" in throttled.last_error
    assert forged.status == OutboundMessage.Status.PENDING and "AuthFailure.SignatureFailure" in forged.last_error


def test_tencent_receipts_are_pulled_and_matched_by_serial_number(providers, settings):
    settings.SMS_BACKEND = "tencent"
    delivered = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))
    failed = send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS))

    def status(row, report, description):
        return {
            "UserReceiveTime": "2026-12-02 18:00:05",
            "CountryCode": "86",
            "SubscriberNumber": "13800138000",
            "PhoneNumber": PHONE,
            "SerialNo": row.provider_message_id,
            "ReportStatus": report,
            "Description": description,
            "SessionContext": str(row.pk),
        }

    providers.reply(
        "PullSmsSendStatus",
        {
            "Response": {
                "PullSmsSendStatusSet": [
                    status(delivered, "SUCCESS", "用户接收成功"),
                    status(failed, "FAIL", "空号"),
                    {**status(failed, "SUCCESS", ""), "SerialNo": "5000:not-ours"},
                ],
                "RequestId": "req",
            }
        },
    )

    counts = services.outbox_poll_receipts()

    assert counts == {"delivered": 1, "undelivered": 1, "unknown": 1}
    assert providers.calls_of("PullSmsSendStatus")[0].params == {"Limit": 100, "SmsSdkAppId": "1400000001"}
    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert delivered.delivery == "delivered" and delivered.delivered_at is not None
    assert (failed.delivery, failed.delivery_error) == ("undelivered", "空号")


# ---- the per-number daily cap ------------------------------------------------------------------


def test_the_daily_cap_gives_up_on_the_next_sms_to_that_number_until_tomorrow(settings, sms_outbox, travel):
    settings.SMS_DAILY_CAP_PER_NUMBER = 2
    rows = [queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS) for _ in range(3)]
    other = queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS, recipient="+8613900139000")

    outbox.outbox_send(ids=[row.pk for row in [*rows, other]])

    statuses = list(OutboundMessage.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["sent", "sent", "failed", "sent"]
    capped = OutboundMessage.objects.get(pk=rows[2].pk)
    assert "Daily cap reached" in capped.last_error
    assert [message["to"] for message in sms_outbox].count(PHONE) == 2

    travel(timedelta(days=1))
    assert send(queue(message_kinds.LINE_EXPIRED, SAMPLE_PARAMS)).status == OutboundMessage.Status.SENT
    assert services.sms_daily_counts_purge(now=timezone.now() + timedelta(days=1)) == 2


def test_a_capped_one_time_code_is_blanked(settings):
    settings.SMS_DAILY_CAP_PER_NUMBER = 1
    SmsDailyCount.objects.create(recipient=PHONE, day=timezone.localdate(), count=1)

    row = send(queue(message_kinds.ONE_TIME_CODE, {"minutes": 10, "purpose": "x"}, code="111111"))

    assert (row.status, row.pending_code) == (OutboundMessage.Status.FAILED, "")


# ---- production refuses a backend that reaches no handset ----------------------------------------


def ids(problems):
    return [problem.id for problem in problems]


def test_production_refuses_a_text_sms_backend_unless_explicitly_allowed(settings):
    settings.SMS_TEXT_BACKEND_ALLOWED = False
    for backend in ("console", "file", "locmem"):
        settings.SMS_BACKEND = backend
        assert ids(checks.sms_backend_check(None)) == ["accounts.E001"]

    settings.SMS_TEXT_BACKEND_ALLOWED = True
    assert checks.sms_backend_check(None) == []


def test_a_provider_backend_needs_its_keys_and_a_template_per_kind(settings, tmp_path):
    settings.SMS_TEXT_BACKEND_ALLOWED = False
    settings.SMS_BACKEND = "tencent"
    settings.TENCENT_SMS_SECRET_ID = settings.TENCENT_SMS_SECRET_KEY = settings.TENCENT_SMS_SDK_APP_ID = ""
    settings.SMS_TEMPLATES = {}
    assert ids(checks.sms_backend_check(None)) == ["accounts.E002", "accounts.W001"]

    settings.TENCENT_SMS_SECRET_ID, settings.TENCENT_SMS_SDK_APP_ID = "AKID", "1400000001"
    key_file = tmp_path / "key"
    key_file.write_text("secret\n", encoding="utf-8")
    settings.TENCENT_SMS_SECRET_KEY_FILE = str(key_file)
    templates_file = tmp_path / "templates.json"
    templates_file.write_text(json.dumps(TEMPLATES), encoding="utf-8")
    settings.SMS_TEMPLATES_FILE = str(templates_file)
    assert checks.sms_backend_check(None) == []
