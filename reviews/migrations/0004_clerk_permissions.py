from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "clerk": ["verify_in_person", "view_certificate"],
    "senior_reviewer": ["view_certificate"],
    "support": ["view_certificate"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    reviews_perms = Permission.objects.filter(content_type__app_label="reviews")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*reviews_perms.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.add(*reviews_perms)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0003_offline_verification_certificates")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
