"""Production: no defaults for secrets; passes ``manage.py check --deploy``."""

from .base import *
from .base import env

DEBUG = False
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
HEYON_REQUIRE_STAFF_2FA = env.bool("HEYON_REQUIRE_STAFF_2FA", default=True)
# The sandbox provider pays with any made-up card: production refuses to start with it
# (billing/checks.py) unless this is set, for a benchmark or rehearsal only, never for a
# site that serves customers (docs/DEPLOY.md). PAYMENT_SANDBOX_SECRET has no default here.
PAYMENT_SANDBOX_ALLOWED = env.bool("HEYON_ALLOW_SANDBOX_IN_PRODUCTION", default=False)
# Likewise an SMS backend that reaches no handset (console, file, locmem): accounts/checks.py.
SMS_TEXT_BACKEND_ALLOWED = env.bool("HEYON_ALLOW_TEXT_SMS_IN_PRODUCTION", default=False)

LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
# Behind the load balancer: take the client address from X-Forwarded-For (rate limits, lockout).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer's health check speaks plain HTTP to the instance: answer it, not redirect it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
