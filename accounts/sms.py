"""Pluggable SMS backends, chosen by the SMS_BACKEND setting like Django's email backends.

A backend's ``send(recipient, text)`` raises on failure; the outbox retries it.
"""

from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

SHORT_NAMES = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "locmem": "accounts.sms.LocmemBackend",
}

# Messages "sent" by the locmem backend, for tests (like django.core.mail.outbox).
outbox: list[dict] = []


class SmsSendError(Exception):
    """The provider refused or could not be reached."""


class BaseBackend:
    def send(self, recipient: str, text: str) -> None:
        raise NotImplementedError


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


def get_backend() -> BaseBackend:
    path = SHORT_NAMES.get(settings.SMS_BACKEND, settings.SMS_BACKEND)
    return import_string(path)()
