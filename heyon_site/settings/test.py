"""Tests: fast hasher, locmem email and SMS, a temporary media root."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from .base import *
from .base import env

# The sandbox provider, signing with the development secret (production refuses both).
PAYMENT_SANDBOX_ALLOWED = True
PAYMENT_SANDBOX_SECRET = env("PAYMENT_SANDBOX_SECRET", default=PAYMENT_SANDBOX_DEVELOPMENT_SECRET)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "locmem"
MEDIA_ROOT = tempfile.mkdtemp(prefix="heyon-test-media-")
PRIVATE_MEDIA_ROOT = os.path.join(MEDIA_ROOT, "private")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The embedded default whatever the environment says: no Redis, messages sent in-process.
# tests/reliability/ points Celery at a real Redis (HEYON_TEST_REDIS_URL) itself.
REDIS_URL = ""
CELERY_BROKER_URL = ""
OUTBOX_SEND_VIA_QUEUE = False
OUTBOX_SEND_TASK_QUEUED_SECONDS = 0  # the cache is per process here
# No decision is drawn for quality control unless a test asks for it (a random draw would
# add rows and queries to other tests' decisions).
QC_SAMPLE_SHARE = 0
# Machine checks only when a test runs them: a background thread loading the OCR models
# would slow every test that submits and write to a database the test is flushing.
MACHINE_CHECKS_RUNNER = "command"
