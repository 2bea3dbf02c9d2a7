"""Whether a submission's photos left a pre-check warning, on the submission itself (the queue filters by it)."""

from django.db import migrations, models

CHUNK = 1000


def backfill(apps, schema_editor):
    """Walk the photos with a warning in primary-key chunks and mark their submissions."""
    SubmissionPhoto = apps.get_model("reviews", "SubmissionPhoto")
    Submission = apps.get_model("reviews", "Submission")
    last_pk = 0
    while True:
        chunk = list(
            SubmissionPhoto.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "submission_id", "hints")[:CHUNK]
        )
        if not chunk:
            return
        hinted = {submission_id for _pk, submission_id, hints in chunk if (hints or {}).get("warnings")}
        Submission.objects.filter(pk__in=hinted).update(has_photo_hints=True)
        last_pk = chunk[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0012_quality_samples_and_queue_sorts"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="has_photo_hints",
            field=models.BooleanField(default=False, verbose_name="photo hints"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(
                condition=models.Q(("has_photo_hints", True), ("status__in", ["pending", "in_review"])),
                fields=["due_at", "id"],
                name="queue_hinted",
            ),
        ),
    ]
