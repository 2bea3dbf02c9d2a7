"""SMS backends for tests, referenced by dotted path from settings.SMS_BACKEND."""

from accounts.sms import BaseBackend, SmsSendError

FAILING = "tests.accounts.sms_backends.FailingBackend"


class FailingBackend(BaseBackend):
    """A provider that is down: every send raises."""

    def send(self, recipient, text):
        raise SmsSendError("provider unreachable")
