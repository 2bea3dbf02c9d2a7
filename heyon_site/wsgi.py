"""WSGI entry point; production servers set DJANGO_SETTINGS_MODULE themselves."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.production")

application = get_wsgi_application()

# Import the URLconf, and with it every view module, now rather than on each process's first
# request: gunicorn loads this module once before forking (preload_app), so its workers share
# those pages and none spends its first requests importing.
get_resolver().url_patterns  # noqa: B018 - evaluated for its import side effect
