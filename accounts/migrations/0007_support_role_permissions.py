from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    accounts_perms = Permission.objects.filter(content_type__app_label="accounts")
    support, _ = Group.objects.get_or_create(name="support")
    support.permissions.add(*accounts_perms.filter(codename__in=["answer_support", "view_supportthread"]))
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.add(*accounts_perms)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_support_threads")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
