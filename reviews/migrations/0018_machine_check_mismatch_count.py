from django.db import migrations, models

CHUNK = 1000


def count_mismatches(apps, schema_editor):
    """Fill the new count for the checks already run, in chunks by primary key."""
    MachineCheck = apps.get_model("reviews", "MachineCheck")
    last = 0
    while True:
        chunk = list(
            MachineCheck.objects.filter(status="done", pk__gt=last).order_by("pk").only("pk", "fields")[:CHUNK]
        )
        if not chunk:
            return
        for check in chunk:
            check.mismatch_count = sum(
                1 for result in (check.fields or {}).values() if result.get("outcome") == "mismatch"
            )
        MachineCheck.objects.bulk_update(chunk, ["mismatch_count"])
        last = chunk[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0017_desk_draft_photos"),
    ]

    operations = [
        migrations.AddField(
            model_name="machinecheck",
            name="mismatch_count",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="fields that differ"),
        ),
        migrations.RunPython(count_mismatches, migrations.RunPython.noop),
    ]
