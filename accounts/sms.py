"""Pluggable SMS backends, chosen by the SMS_BACKEND setting like Django's email backends.

A backend's ``send_sms(sms)`` sends one message and returns the provider's id for it (blank
when there is none); it raises ``SmsSendError`` on failure, saying whether a later attempt
may succeed (the outbox retries it with a backoff) or not (the outbox gives up at once).
Text backends (console, file, locmem) send the rendered text; the providers' backends
(``accounts.sms_providers``: Alibaba Cloud, Tencent Cloud) send the kind's approved template
with its parameters. ``fetch_receipts`` asks the provider which messages reached the handset.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

SHORT_NAMES = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "locmem": "accounts.sms.LocmemBackend",
    "aliyun": "accounts.sms_providers.AliyunBackend",
    "tencent": "accounts.sms_providers.TencentBackend",
}

# Messages "sent" by the locmem backend, for tests (like django.core.mail.outbox).
outbox: list[dict] = []


class SmsSendError(Exception):
    """The provider refused or could not be reached.

    ``retry``: whether sending the same message later may work (an outage, a rate limit, an
    empty account balance, a template not yet approved) or never will (an invalid number, a
    number on the provider's blacklist, parameters the template refuses).
    """

    def __init__(self, message: str, *, retry: bool = True, code: str = ""):
        super().__init__(message)
        self.retry = retry
        self.code = code


@dataclass(frozen=True)
class Sms:
    """One message as it leaves: its outbox id, the E.164 number, its text and template parameters."""

    id: int
    recipient: str
    text: str
    kind: str = ""
    # The kind's SMS template parameters, in the template's order, as text in ``language``.
    template_params: tuple[tuple[str, str], ...] = ()
    language: str = ""


@dataclass(frozen=True)
class SentSms:
    """A message the provider accepted, whose receipt is awaited."""

    id: int
    recipient: str
    provider_message_id: str
    sent_at: datetime


@dataclass(frozen=True)
class Receipt:
    """The provider's word on whether a message reached the handset."""

    provider_message_id: str
    delivered: bool
    reported_at: datetime
    error: str = ""
    extra: dict = field(default_factory=dict)


class BaseBackend:
    # Whether the backend reaches real handsets (production refuses the others: accounts/checks.py).
    delivers_to_handsets = False
    # Whether it sends the kinds' approved templates (SMS_TEMPLATES), and the settings it cannot work without.
    sends_templates = False
    required_settings: tuple[str, ...] = ()

    def send(self, recipient: str, text: str) -> None:
        raise NotImplementedError

    def send_sms(self, sms: Sms) -> str:
        self.send(sms.recipient, sms.text)
        return ""

    def fetch_receipts(self, sent: list[SentSms]) -> list[Receipt]:
        """Receipts for these sent messages (those the provider has; none for text backends)."""
        return []


class ConsoleBackend(BaseBackend):
    def send(self, recipient, text):
        print(f"[SMS to {recipient}] {text}", flush=True)


class FileBackend(BaseBackend):
    """Write one .txt file per message into SMS_FILE_PATH: the number, then the text."""

    def send(self, recipient, text):
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        path = folder / f"{stamp}-{uuid4().hex[:8]}.txt"
        path.write_text(f"To: {recipient}\n\n{text}\n", encoding="utf-8")


class LocmemBackend(BaseBackend):
    def send(self, recipient, text):
        outbox.append({"to": recipient, "text": text})


def secret_setting(name: str) -> str:
    """A secret from its setting, or from the file its ``<name>_FILE`` setting names."""
    value = getattr(settings, name, "")
    path = getattr(settings, f"{name}_FILE", "")
    if not value and path:
        value = Path(path).read_text(encoding="utf-8").strip()
    return value


def sms_templates() -> dict:
    """``SMS_TEMPLATES``, or the JSON file ``SMS_TEMPLATES_FILE`` names: {kind: id or {language: id}}."""
    if settings.SMS_TEMPLATES_FILE:
        return json.loads(Path(settings.SMS_TEMPLATES_FILE).read_text(encoding="utf-8"))
    return settings.SMS_TEMPLATES


def backend_class(name: str | None = None) -> type[BaseBackend]:
    name = name or settings.SMS_BACKEND
    return import_string(SHORT_NAMES.get(name, name))


def get_backend() -> BaseBackend:
    return backend_class()()
