"""Development: the embedded default (SQLite, local files, in-process messages)."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-secret-key-change-me-0123456789")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

from .base import *

# Serve static files straight from the apps while developing (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
