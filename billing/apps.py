from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from . import checks  # noqa: F401 - registers the system checks (they read settings only when run)


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        # Imported here, not at the top: services import models, which need the app registry.
        from accounts.services import lines_first_activation_handler_add
        from billing.services import line_services_start

        # A new line starts on its plan, with its allowances, the moment it is activated.
        lines_first_activation_handler_add(line_services_start)
