"""System checks: production must not take money through the sandbox provider, and a real
provider must be configured completely (billing.E004–E006).

The sandbox pays with any made-up card, so a site configured with it refuses to start
(``migrate``, ``runserver`` and ``check`` fail) unless the settings allow it:
PAYMENT_SANDBOX_ALLOWED is on in the local and test settings, and in production only
with HEYON_ALLOW_SANDBOX_IN_PRODUCTION=true, which is for benchmarks and rehearsals on
production settings, never for a site that serves customers (docs/DEPLOY.md).
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

SANDBOX_GATEWAY = "billing.gateways.sandbox.SandboxGateway"
MIN_SECRET_LENGTH = 32


def _sandbox_methods() -> list[str]:
    """The payment methods whose gateway is the sandbox (or a subclass of it)."""
    sandbox = import_string(SANDBOX_GATEWAY)
    methods = []
    for method, name in sorted(settings.PAYMENT_METHOD_GATEWAYS.items()):
        path = settings.PAYMENT_GATEWAYS.get(name)
        if path and issubclass(import_string(path), sandbox):
            methods.append(method)
    return methods


@register(Tags.security)
def sandbox_gateway_check(app_configs, **kwargs):
    methods = _sandbox_methods()
    if not methods:
        return []
    problems = []
    if not settings.PAYMENT_SANDBOX_ALLOWED:
        problems.append(
            Error(
                f"The sandbox payment provider is configured for {', '.join(methods)}: any made-up card would pay.",
                hint="Name a real provider's gateway in PAYMENT_GATEWAYS and PAYMENT_METHOD_GATEWAYS. "
                "HEYON_ALLOW_SANDBOX_IN_PRODUCTION=true allows the sandbox for a benchmark or rehearsal only.",
                id="billing.E001",
            )
        )
    if not settings.PAYMENT_SANDBOX_SECRET:
        problems.append(
            Error(
                "PAYMENT_SANDBOX_SECRET is empty: the sandbox cannot sign or verify its callbacks.",
                hint="Set PAYMENT_SANDBOX_SECRET to a random string of its own (not SECRET_KEY).",
                id="billing.E002",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def sandbox_secret_deploy_check(app_configs, **kwargs):
    secret = settings.PAYMENT_SANDBOX_SECRET
    if not secret or not _sandbox_methods():
        return []
    if (
        secret == settings.PAYMENT_SANDBOX_DEVELOPMENT_SECRET
        or secret == settings.SECRET_KEY
        or len(secret) < MIN_SECRET_LENGTH
    ):
        return [
            Error(
                "PAYMENT_SANDBOX_SECRET is the development secret, SECRET_KEY, or shorter than "
                f"{MIN_SECRET_LENGTH} characters: anyone who knows it can sign a payment callback.",
                hint="Set PAYMENT_SANDBOX_SECRET to a random string of its own, at least 32 characters.",
                id="billing.E003",
            )
        ]
    return []


def _configured_gateways() -> dict[str, list[str]]:
    """Each gateway name that takes a payment method, with the methods it takes."""
    taken: dict[str, list[str]] = {}
    for method, name in sorted(settings.PAYMENT_METHOD_GATEWAYS.items()):
        taken.setdefault(name, []).append(method)
    return taken


@register(Tags.security)
def provider_configuration_check(app_configs, **kwargs):
    problems = []
    for name, methods in _configured_gateways().items():
        path = settings.PAYMENT_GATEWAYS.get(name)
        if path is None:
            problems.append(
                Error(
                    f"PAYMENT_METHOD_GATEWAYS sends {', '.join(methods)} to {name!r}, "
                    "which PAYMENT_GATEWAYS does not name.",
                    id="billing.E004",
                )
            )
            continue
        missing = import_string(path).configuration_problems()
        if missing:
            problems.append(
                Error(
                    f"The {name} payment provider takes {', '.join(methods)} but is not configured: "
                    f"{'; '.join(missing)}.",
                    hint="docs/DEPLOY.md, section Payments, lists each provider's settings and keys.",
                    id="billing.E005",
                )
            )
    return problems


@register(Tags.security, deploy=True)
def provider_addresses_deploy_check(app_configs, **kwargs):
    names = set()
    for name in _configured_gateways():
        path = settings.PAYMENT_GATEWAYS.get(name)
        if path:
            names.update(import_string(path).address_settings)
    plain = sorted(name for name in names if not str(getattr(settings, name, "")).startswith("https://"))
    if not plain:
        return []
    return [
        Error(
            f"{', '.join(plain)} is not an https:// address: callbacks, keys and amounts would travel in clear.",
            hint="Use the providers' https hosts and the site's public https address.",
            id="billing.E006",
        )
    ]
