from django.core.management.base import BaseCommand

from reviews import services


class Command(BaseCommand):
    help = "Return submissions whose review lease has run out to the queue as pending."

    def handle(self, *args, **options):
        count = services.submissions_release_expired_claims()
        self.stdout.write(f"released={count}")
