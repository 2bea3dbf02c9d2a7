import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

REDACTED = "[redacted after sending]"


def withdraw_unsent_codes(apps, schema_editor):
    """Code messages not yet sent showed their code in the body: blank them and stop them.

    Their codes are a few minutes old at most; the customer asks for a new one.
    """
    OutboundMessage = apps.get_model("accounts", "OutboundMessage")
    OutboundMessage.objects.filter(redact_after_send=True).exclude(body=REDACTED).update(
        body=REDACTED, status="failed", claimed_until=None, last_error="Withdrawn: the text showed a one-time code"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_portal_models_moved_to_customers"),
    ]

    operations = [
        migrations.AddField(
            model_name="onetimecode",
            name="registration_email",
            field=models.EmailField(blank=True, editable=False, max_length=254, verbose_name="registration email"),
        ),
        migrations.AddField(
            model_name="onetimecode",
            name="registration_password",
            field=models.CharField(
                blank=True, editable=False, max_length=128, verbose_name="registration password (hashed)"
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="pending_code",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=16, verbose_name="code to send"
            ),
        ),
        migrations.AlterField(
            model_name="onetimecode",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="one_time_codes",
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
        migrations.RunPython(withdraw_unsent_codes, migrations.RunPython.noop),
    ]
