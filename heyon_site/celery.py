"""The Celery application: a worker sends messages and a beat process runs the schedule.

Start with ``celery -A heyon_site worker`` and ``celery -A heyon_site beat`` (see the
README's "Background work"). Every task calls the same service as its management
command. Without a broker (the embedded default) nothing here runs: messages are sent
in-process and the commands are scheduled by cron.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.production")

app = Celery("heyon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
