"""An exact-match index of each submission's normalised name (keyed hash), filled in for existing rows."""

from django.db import migrations, models

from reviews.pii import name_blind_index

CHUNK = 1000


def backfill(apps, schema_editor):
    """Walk the submissions in primary-key chunks; one UPDATE per distinct name of a chunk."""
    Submission = apps.get_model("reviews", "Submission")
    last_pk = 0
    while True:
        chunk = list(
            Submission.objects.filter(pk__gt=last_pk, full_name_index="")
            .exclude(full_name="")
            .order_by("pk")
            .values_list("pk", "full_name")[:CHUNK]
        )
        if not chunk:
            return
        by_index: dict[str, list[int]] = {}
        for pk, full_name in chunk:
            by_index.setdefault(name_blind_index(full_name), []).append(pk)
        for index, pks in by_index.items():
            Submission.objects.filter(pk__in=pks).update(full_name_index=index)
        last_pk = chunk[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0010_backfill_identity_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="full_name_index",
            field=models.CharField(
                blank=True, db_index=True, editable=False, max_length=64, verbose_name="full name index"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
