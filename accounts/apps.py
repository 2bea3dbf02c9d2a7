from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _

from . import checks  # noqa: F401 - registers the system checks (they read settings only when run)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")


class HeyonAdminConfig(admin_apps.AdminConfig):
    """Django admin on ``accounts.admin_site.AuditedAdminSite``: every change made there is audited."""

    default = False
    default_site = "accounts.admin_site.AuditedAdminSite"
