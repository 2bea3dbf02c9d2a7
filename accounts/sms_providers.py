"""SMS through Alibaba Cloud (dysmsapi 2017-05-25) and Tencent Cloud (sms 2021-01-11), with their own SDKs.

Both send only approved templates: each message kind has a template id in ``SMS_TEMPLATES``
(per language where the provider needs an English or international template of its own)
and the kind's ``sms_params`` as its parameters. The outbox row's id travels with the
message (Alibaba's ``OutId``, Tencent's ``SessionContext``) and the provider's id for it
(``BizId``, ``SerialNo``) is kept on the row: receipts are matched by it.

Each provider's error codes are sorted into "a later attempt may work" (outages, rate
limits, an empty balance, a template or signature still under review: the outbox retries
with its backoff) and "it never will" for this message (an invalid or blacklisted number,
parameters the template refuses, the provider's own daily limit for the number: the outbox
gives up at once). A code not listed is retried: losing a message is worse than trying again.
"""

import json
import logging
from datetime import datetime
from functools import cached_property

from alibabacloud_dysmsapi20170525 import models as aliyun_models
from alibabacloud_dysmsapi20170525.client import Client as AliyunClient
from alibabacloud_tea_openapi import models as aliyun_openapi
from darabonba.runtime import RuntimeOptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from tencentcloud.common import credential as tencent_credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tencent_models
from tencentcloud.sms.v20210111.sms_client import SmsClient as TencentClient

from accounts.sms import BaseBackend, Receipt, SentSms, Sms, SmsSendError, secret_setting, sms_templates

logger = logging.getLogger(__name__)

CHINA_PREFIX = "+86"
PROVIDER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def template_id(kind: str, language: str) -> str:
    """The approved template of ``kind`` in ``language``; the site's language's when it has none of its own."""
    entry = sms_templates().get(kind)
    if isinstance(entry, dict):
        entry = entry.get(language) or entry.get(settings.LANGUAGE_CODE)
    if not entry:
        # The operator can add it: the message waits with its backoff meanwhile.
        raise SmsSendError(f"No SMS template for {kind!r} ({language}) in SMS_TEMPLATES", code="template_missing")
    return str(entry)


def _provider_time(text: str | None) -> datetime:
    """A provider's timestamp (China time, no zone), or now when it has none."""
    if not text:
        return timezone.now()
    try:
        return timezone.make_aware(datetime.strptime(text, PROVIDER_TIME_FORMAT))
    except ValueError:
        return timezone.now()


class AliyunBackend(BaseBackend):
    """Alibaba Cloud SMS. Receipts by ``QuerySendDetails``, one question per message."""

    delivers_to_handsets = True
    sends_templates = True
    required_settings = ("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET")

    # Codes after which this message will never go (the others are retried).
    GIVE_UP = frozenset(
        {
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.MOBILE_COUNT_OVER_LIMIT",
            "isv.BLACK_KEY_CONTROL_LIMIT",
            "isv.PARAM_LENGTH_LIMIT",
            "isv.PARAM_NOT_SUPPORT_URL",
            "isv.INVALID_PARAMETERS",
            "isv.INVALID_JSON_PARAM",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.TEMPLATE_PARAMS_ILLEGAL",
            "isv.DAY_LIMIT_CONTROL",
            "isv.SMS_CONTENT_ILLEGAL",
            "isv.EXTEND_CODE_ERROR",
            "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
            "isv.DENY_IP_RANGE",
        }
    )
    SEND_STATUS_FAILED, SEND_STATUS_DELIVERED = 2, 3

    @cached_property
    def client(self) -> AliyunClient:
        key_id, secret = settings.ALIYUN_SMS_ACCESS_KEY_ID, secret_setting("ALIYUN_SMS_ACCESS_KEY_SECRET")
        if not key_id or not secret:
            raise ImproperlyConfigured("ALIYUN_SMS_ACCESS_KEY_ID and ALIYUN_SMS_ACCESS_KEY_SECRET(_FILE) are needed")
        config = aliyun_openapi.Config(
            access_key_id=key_id,
            access_key_secret=secret,
            endpoint=settings.ALIYUN_SMS_ENDPOINT,
            protocol=settings.ALIYUN_SMS_PROTOCOL,
        )
        return AliyunClient(config)

    @staticmethod
    def _runtime() -> RuntimeOptions:
        timeout_ms = settings.SMS_PROVIDER_TIMEOUT_SECONDS * 1000
        # No retries inside the SDK: the outbox retries, with its backoff and its attempt count.
        return RuntimeOptions(connect_timeout=timeout_ms, read_timeout=timeout_ms, autoretry=False, max_attempts=1)

    @staticmethod
    def number(e164: str) -> str:
        """Alibaba's form: mainland numbers without +86, others with their country code and no +."""
        return e164.removeprefix(CHINA_PREFIX) if e164.startswith(CHINA_PREFIX) else e164.lstrip("+")

    def _error(self, code: str, message: str) -> SmsSendError:
        return SmsSendError(f"Alibaba Cloud SMS {code}: {message}", retry=code not in self.GIVE_UP, code=code)

    def send_sms(self, sms: Sms) -> str:
        request = aliyun_models.SendSmsRequest(
            phone_numbers=self.number(sms.recipient),
            sign_name=settings.SMS_SIGN_NAME,
            template_code=template_id(sms.kind, sms.language),
            template_param=json.dumps(dict(sms.template_params), ensure_ascii=False),
            out_id=str(sms.id),
        )
        try:
            response = self.client.send_sms_with_options(request, self._runtime())
        except SmsSendError:
            raise
        except Exception as error:
            code = getattr(error, "code", None) or type(error).__name__
            raise self._error(str(code), str(getattr(error, "message", None) or error)) from error
        body = response.body
        if body.code != "OK":
            raise self._error(body.code or "", body.message or "")
        return body.biz_id or ""

    def fetch_receipts(self, sent: list[SentSms]) -> list[Receipt]:
        receipts = []
        for message in sent:
            request = aliyun_models.QuerySendDetailsRequest(
                phone_number=self.number(message.recipient),
                biz_id=message.provider_message_id,
                send_date=timezone.localtime(message.sent_at).strftime("%Y%m%d"),
                page_size=10,
                current_page=1,
            )
            try:
                response = self.client.query_send_details_with_options(request, self._runtime())
            except Exception as error:  # noqa: BLE001 - the next poll asks again
                logger.warning("Alibaba Cloud SMS receipts for %s failed: %s", message.provider_message_id, error)
                continue
            details = response.body.sms_send_detail_dtos
            for detail in (details.sms_send_detail_dto or []) if details else []:
                if detail.send_status not in (self.SEND_STATUS_FAILED, self.SEND_STATUS_DELIVERED):
                    continue  # still waiting for the carrier
                delivered = detail.send_status == self.SEND_STATUS_DELIVERED
                receipts.append(
                    Receipt(
                        provider_message_id=message.provider_message_id,
                        delivered=delivered,
                        reported_at=_provider_time(detail.receive_date),
                        error="" if delivered else (detail.err_code or ""),
                    )
                )
                break
        return receipts


class TencentBackend(BaseBackend):
    """Tencent Cloud SMS. Receipts by ``PullSmsSendStatus`` (the application's receipts since the last pull)."""

    delivers_to_handsets = True
    sends_templates = True
    required_settings = ("TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID")

    GIVE_UP = frozenset(
        {
            "InvalidParameterValue.IncorrectPhoneNumber",
            "InvalidParameterValue.TemplateParameterFormatError",
            "InvalidParameterValue.TemplateParameterLengthLimit",
            "InvalidParameterValue.ContentLengthLimit",
            "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
            "FailedOperation.PhoneNumberInBlacklist",
            "FailedOperation.PhoneNumberParseFail",
            "FailedOperation.ContainSensitiveWord",
            "LimitExceeded.PhoneNumberDailyLimit",
            "LimitExceeded.PhoneNumberSameContentDailyLimit",
            "UnsupportedOperation.UnsupportedRegion",
            "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
        }
    )
    PULL_LIMIT = 100
    MAX_PULLS = 20

    @cached_property
    def client(self) -> TencentClient:
        secret_id, secret_key = settings.TENCENT_SMS_SECRET_ID, secret_setting("TENCENT_SMS_SECRET_KEY")
        if not secret_id or not secret_key or not settings.TENCENT_SMS_SDK_APP_ID:
            raise ImproperlyConfigured(
                "TENCENT_SMS_SECRET_ID, TENCENT_SMS_SECRET_KEY(_FILE) and TENCENT_SMS_SDK_APP_ID are needed"
            )
        http = HttpProfile(
            endpoint=settings.TENCENT_SMS_ENDPOINT,
            protocol=settings.TENCENT_SMS_PROTOCOL,
            reqTimeout=settings.SMS_PROVIDER_TIMEOUT_SECONDS,
        )
        return TencentClient(
            tencent_credential.Credential(secret_id, secret_key),
            settings.TENCENT_SMS_REGION,
            ClientProfile(httpProfile=http),
        )

    def _error(self, code: str, message: str) -> SmsSendError:
        return SmsSendError(f"Tencent Cloud SMS {code}: {message}", retry=code not in self.GIVE_UP, code=code)

    def send_sms(self, sms: Sms) -> str:
        request = tencent_models.SendSmsRequest()
        request.SmsSdkAppId = settings.TENCENT_SMS_SDK_APP_ID
        request.SignName = settings.SMS_SIGN_NAME
        request.TemplateId = template_id(sms.kind, sms.language)
        request.TemplateParamSet = [value for _name, value in sms.template_params]
        request.PhoneNumberSet = [sms.recipient]
        request.SessionContext = str(sms.id)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            raise self._error(error.code or "", error.message or "") from error
        except SmsSendError:
            raise
        except Exception as error:
            raise self._error(type(error).__name__, str(error)) from error
        statuses = response.SendStatusSet or []
        if not statuses:
            raise self._error("NoSendStatus", "the answer named no number")
        status = statuses[0]
        if status.Code != "Ok":
            raise self._error(status.Code or "", status.Message or "")
        return status.SerialNo or ""

    def fetch_receipts(self, sent: list[SentSms]) -> list[Receipt]:
        receipts = []
        for _pull in range(self.MAX_PULLS):
            request = tencent_models.PullSmsSendStatusRequest()
            request.Limit = self.PULL_LIMIT
            request.SmsSdkAppId = settings.TENCENT_SMS_SDK_APP_ID
            try:
                response = self.client.PullSmsSendStatus(request)
            except Exception as error:  # noqa: BLE001 - the next poll asks again
                logger.warning("Tencent Cloud SMS receipts failed: %s", error)
                break
            batch = response.PullSmsSendStatusSet or []
            for status in batch:
                delivered = status.ReportStatus == "SUCCESS"
                receipts.append(
                    Receipt(
                        provider_message_id=status.SerialNo or "",
                        delivered=delivered,
                        reported_at=_provider_time(status.UserReceiveTime),
                        error="" if delivered else (status.Description or status.ReportStatus or ""),
                    )
                )
            if len(batch) < self.PULL_LIMIT:
                break
        return receipts
