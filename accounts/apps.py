from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _

from . import checks  # noqa: F401 - registers the system checks (they read settings only when run)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from django.contrib.auth.models import Group, Permission
        from django.db.models.signals import m2m_changed, post_delete

        from .backends import permissions_changed
        from .models import User

        # Whatever changes who holds which permission ends the cached permission sets.
        for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
            m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"permissions-{through.__name__}")
        for model in (Group, Permission):
            post_delete.connect(permissions_changed, sender=model, dispatch_uid=f"permissions-{model.__name__}")


class HeyonAdminConfig(admin_apps.AdminConfig):
    """Django admin on ``accounts.admin_site.AuditedAdminSite``: every change made there is audited."""

    default = False
    default_site = "accounts.admin_site.AuditedAdminSite"
