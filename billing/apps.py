from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from . import checks  # noqa: F401 - registers the system checks (they read settings only when run)


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
