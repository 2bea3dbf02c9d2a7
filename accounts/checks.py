"""System checks: production must send SMS to handsets, and a provider backend must be able to.

A backend that reaches no handset (console, file, locmem) loses every SMS of a live site, so
production refuses to start with one (``accounts.E001``) unless HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION
is on, for a benchmark or rehearsal on production settings only (docs/DEPLOY.md). A provider
backend needs its keys and a template for every kind of message sent by SMS.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from accounts import message_kinds, sms


@register(Tags.security)
def sms_backend_check(app_configs, **kwargs):
    backend = sms.backend_class()
    if not backend.delivers_to_handsets:
        if settings.SMS_TEXT_BACKEND_ALLOWED:
            return []
        return [
            Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} reaches no handset: no customer would get a code or a message.",
                hint="Set SMS_BACKEND to 'aliyun' or 'tencent' with its keys (docs/DEPLOY.md). "
                "HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION=true allows it for a benchmark or rehearsal only.",
                id="accounts.E001",
            )
        ]
    problems = []
    missing = [name for name in backend.required_settings if not sms.secret_setting(name)]
    if missing:
        problems.append(
            Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} lacks {', '.join(missing)}.",
                hint="Set them, or the *_FILE setting naming a file that holds the secret (docs/DEPLOY.md).",
                id="accounts.E002",
            )
        )
    if not backend.sends_templates:
        return problems
    templates = sms.sms_templates()
    missing_kinds = sorted(key for key, kind in message_kinds.KINDS.items() if kind.sms and key not in templates)
    if missing_kinds:
        problems.append(
            Warning(
                f"SMS_TEMPLATES has no template for: {', '.join(missing_kinds)}.",
                hint="Those messages would wait and be retried until a template is added (docs/DEPLOY.md).",
                id="accounts.W001",
            )
        )
    return problems
