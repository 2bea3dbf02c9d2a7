"""Cancellation requests and support threads now belong to the customers app (same tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_field_labels"),
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="supportmessage",
                    name="author",
                ),
                migrations.RemoveField(
                    model_name="supportmessage",
                    name="thread",
                ),
                migrations.RemoveField(
                    model_name="supportthread",
                    name="assignee",
                ),
                migrations.RemoveField(
                    model_name="supportthread",
                    name="customer",
                ),
                migrations.DeleteModel(
                    name="CancellationRequest",
                ),
                migrations.DeleteModel(
                    name="SupportMessage",
                ),
                migrations.DeleteModel(
                    name="SupportThread",
                ),
            ],
        ),
    ]
