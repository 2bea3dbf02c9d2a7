"""Support follows up refunds and reconciliation discrepancies (and resolves the latter); admin has all."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "support": ["view_refund", "view_reconciliation", "view_discrepancy", "change_discrepancy"],
    "admin": ["view_refund", "view_reconciliation", "view_discrepancy", "change_discrepancy"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("billing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    billing_perms = Permission.objects.filter(content_type__app_label="billing")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*billing_perms.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_provider_refunds_and_reconciliation")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
