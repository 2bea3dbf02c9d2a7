"""Erase the ID photos kept for verification forms that were never submitted, once they expire."""

from django.core.management.base import BaseCommand

from reviews import services


class Command(BaseCommand):
    help = "Erase draft ID photos older than SUBMISSION_DRAFT_HOURS (files and rows). Safe to run on several machines."

    def handle(self, *args, **options):
        erased = services.drafts_purge_expired()
        self.stdout.write(f"erased={erased}")
