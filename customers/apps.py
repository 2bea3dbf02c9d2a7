from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customer portal")

    def ready(self):
        # Imported here, not at the top: services import models, which need the app registry.
        from billing.services import renewal_refusal_add
        from customers.services.cancellation import lines_with_cancellation_requested

        # A line whose cancellation is requested is renewed by no path (order, payment, store, auto-renew).
        renewal_refusal_add(lines_with_cancellation_requested)
