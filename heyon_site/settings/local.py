"""Development: the embedded default (SQLite, local files, in-process messages)."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-secret-key-change-me-0123456789")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

from .base import *
from .base import env

# The sandbox provider, signing with the development secret (production refuses both).
PAYMENT_SANDBOX_ALLOWED = True
PAYMENT_SANDBOX_SECRET = env("PAYMENT_SANDBOX_SECRET", default=PAYMENT_SANDBOX_DEVELOPMENT_SECRET)

# Serve static files straight from the apps while developing (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
