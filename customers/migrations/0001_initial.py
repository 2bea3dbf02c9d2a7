"""The portal's models were the accounts app's: their tables stay, only Django's record moves.

The tables keep their names (``db_table``), so this migration creates nothing in the
database. The content types are relabelled so that the permissions granted to the
support and admin roles (decide cancellations, answer support) follow the models.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ["cancellationrequest", "supportthread", "supportmessage"]


def relabel(apps, schema_editor, old="accounts", new="customers"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def relabel_back(apps, schema_editor):
    relabel(apps, schema_editor, old="customers", new="accounts")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0009_field_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SupportThread",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "topic",
                            models.CharField(
                                choices=[
                                    ("verification", "Real-name verification"),
                                    ("renewal", "Renewal and payments"),
                                    ("cancellation", "Cancellation"),
                                    ("other", "Something else"),
                                ],
                                max_length=16,
                                verbose_name="topic",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("open", "Waiting for support"),
                                    ("answered", "Answered"),
                                    ("closed", "Closed"),
                                ],
                                default="open",
                                max_length=10,
                                verbose_name="status",
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, verbose_name="opened at"),
                        ),
                        ("waiting_since", models.DateTimeField(blank=True, null=True, verbose_name="waiting since")),
                        (
                            "last_message_at",
                            models.DateTimeField(default=django.utils.timezone.now, verbose_name="last message"),
                        ),
                        (
                            "assignee",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="assignee",
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="support_threads",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="customer",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "support thread",
                        "verbose_name_plural": "support threads",
                        "db_table": "accounts_supportthread",
                        "permissions": [("answer_support", "Can answer customers' support messages")],
                    },
                ),
                migrations.CreateModel(
                    name="SupportMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("from_staff", models.BooleanField(default=False, verbose_name="from staff")),
                        ("body", models.TextField(verbose_name="message")),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at"),
                        ),
                        (
                            "author",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="author",
                            ),
                        ),
                        (
                            "thread",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="messages",
                                to="customers.supportthread",
                                verbose_name="thread",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "support message",
                        "verbose_name_plural": "support messages",
                        "db_table": "accounts_supportmessage",
                        "ordering": ["created_at", "pk"],
                    },
                ),
                migrations.CreateModel(
                    name="CancellationRequest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("open", "Waiting for support"),
                                    ("approved", "Approved: line cancelled"),
                                    ("rejected", "Rejected"),
                                    ("withdrawn", "Withdrawn"),
                                ],
                                default="open",
                                max_length=10,
                                verbose_name="status",
                            ),
                        ),
                        ("full_name", models.CharField(max_length=60, verbose_name="full name")),
                        ("phone", models.CharField(max_length=20, verbose_name="phone")),
                        (
                            "reason",
                            models.CharField(
                                choices=[
                                    ("no_longer_needed", "I no longer need the number"),
                                    ("moving_abroad", "I am moving abroad"),
                                    ("switching_operator", "I am switching to another operator"),
                                    ("cost", "It costs too much"),
                                    ("service_quality", "Poor coverage or service"),
                                    ("other", "Other"),
                                ],
                                max_length=24,
                                verbose_name="reason",
                            ),
                        ),
                        ("reason_detail", models.TextField(blank=True, verbose_name="details")),
                        (
                            "third_party_bindings",
                            models.JSONField(blank=True, default=list, verbose_name="services bound to the number"),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, verbose_name="requested at"),
                        ),
                        ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="decided at")),
                        ("decision_note", models.TextField(blank=True, verbose_name="note to the customer")),
                        (
                            "decided_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="decided by",
                            ),
                        ),
                        (
                            "line",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cancellations",
                                to="accounts.line",
                                verbose_name="line",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cancellations",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="customer",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "cancellation request",
                        "verbose_name_plural": "cancellation requests",
                        "db_table": "accounts_cancellationrequest",
                        "permissions": [("decide_cancellation", "Can approve or reject cancellation requests")],
                        "indexes": [
                            models.Index(fields=["status", "created_at"], name="accounts_ca_status_60edbd_idx")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("status", "open")),
                                fields=("line",),
                                name="one_open_cancellation_per_line",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("status__in", ["open", "withdrawn"]),
                                    models.Q(("decided_at__isnull", False), ("decided_by__isnull", False)),
                                    _connector="OR",
                                ),
                                name="cancellation_decision_has_decider",
                            ),
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="supportthread",
                    index=models.Index(fields=["status", "waiting_since"], name="accounts_su_status_836784_idx"),
                ),
                migrations.AddIndex(
                    model_name="supportthread",
                    index=models.Index(fields=["customer", "-last_message_at"], name="accounts_su_custome_70f445_idx"),
                ),
            ],
        ),
        migrations.RunPython(relabel, relabel_back),
    ]
