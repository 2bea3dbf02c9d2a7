"""Record on each verified account the ID it was verified with, for the 一证五号 count."""

from django.db import migrations

CHUNK = 1000


def backfill(apps, schema_editor):
    Submission = apps.get_model("reviews", "Submission")
    User = apps.get_model("accounts", "User")
    Identity = apps.get_model("accounts", "Identity")
    approved = (
        Submission.objects.filter(status="approved", user__real_name_verified_at__isnull=False)
        .order_by("user_id", "attempt_number")
        .values_list("user_id", "id_number_index")
    )
    # The latest approval of each account wins (ordered by attempt).
    index_by_user = dict(approved.iterator(chunk_size=CHUNK))
    by_index: dict[str, list[int]] = {}
    for user_id, index in index_by_user.items():
        by_index.setdefault(index, []).append(user_id)
    Identity.objects.bulk_create([Identity(index=index) for index in by_index], batch_size=CHUNK, ignore_conflicts=True)
    for index, user_ids in by_index.items():
        User.objects.filter(pk__in=user_ids).update(identity_index=index)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_identity_line_limit"),
        ("reviews", "0009_calendar_days"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
