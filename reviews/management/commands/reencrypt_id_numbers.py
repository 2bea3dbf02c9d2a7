from django.core.management.base import BaseCommand
from django.db import transaction

from reviews import pii
from reviews.models import Submission

CHUNK = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored ID number under the newest key of FIELD_ENCRYPTION_KEYS. "
        "Run after prepending a new key; once it finishes, the old key can be removed."
    )

    def handle(self, *args, **options):
        last_pk, done = 0, 0
        while True:
            with transaction.atomic():
                chunk = list(
                    Submission.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .exclude(id_number_encrypted="")
                    .order_by("pk")
                    .only("pk", "id_number_encrypted")[:CHUNK]
                )
                for submission in chunk:
                    submission.id_number_encrypted = pii.reencrypt(submission.id_number_encrypted)
                Submission.objects.bulk_update(chunk, ["id_number_encrypted"])
            if not chunk:
                break
            last_pk = chunk[-1].pk
            done += len(chunk)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {done} ID numbers under the newest key."))
