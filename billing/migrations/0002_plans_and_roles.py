"""Seed the three plans of the specification and give the roles their billing permissions."""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

PLANS = [
    # code, zh, en, monthly price, data MB, voice minutes, SMS
    ("basic", "基础套餐", "Basic", Decimal("30.00"), 10 * 1024, 100, 100),
    ("standard", "标准套餐", "Standard", Decimal("60.00"), 40 * 1024, 300, 200),
    ("premium", "尊享套餐", "Premium", Decimal("100.00"), 100 * 1024, 1000, 500),
]

ROLE_PERMISSIONS = {
    "clerk": ["renew_at_store", "view_order", "view_receipt", "view_plan"],
    "support": [
        "view_order",
        "view_payment",
        "view_receipt",
        "view_wallet",
        "view_ledgerentry",
        "view_plan",
        "view_lineservice",
        "view_usagerecord",
    ],
    "senior_reviewer": ["view_plan"],
}


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for order, (code, zh, en, price, data_mb, minutes, sms) in enumerate(PLANS):
        Plan.objects.get_or_create(
            code=code,
            version=1,
            defaults={
                "name_zh": zh,
                "name_en": en,
                "monthly_price": price,
                "data_mb": data_mb,
                "voice_minutes": minutes,
                "sms_count": sms,
                "sort_order": order,
            },
        )
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    billing_perms = Permission.objects.filter(content_type__app_label="billing")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*billing_perms.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.add(*billing_perms)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("accounts", "0002_staff_roles")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
