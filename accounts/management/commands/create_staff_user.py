import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import ServicePoint


class Command(BaseCommand):
    help = "Create or update a staff member with one role. Password from HEYON_STAFF_PASSWORD or a prompt."

    def add_arguments(self, parser):
        parser.add_argument("login", help="The username the staff member signs in with")
        parser.add_argument("--role", required=True, choices=services.users.STAFF_ROLES)
        parser.add_argument("--service-point", dest="service_point", help="Code of the staff member's service point")

    def handle(self, *args, login, role, service_point, **options):
        point = None
        if service_point:
            point = ServicePoint.objects.filter(code=service_point).first()
            if point is None:
                raise CommandError(f"No service point has the code {service_point!r}.")
        password = os.environ.get("HEYON_STAFF_PASSWORD")
        if not password:
            if not options.get("interactive", True) or not os.isatty(0):
                raise CommandError("Set HEYON_STAFF_PASSWORD or run in a terminal to be asked for the password.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        user = services.staff_user_create(login=login, role=role, password=password, service_point=point)
        where = f" at {point.code}" if point else ""
        self.stdout.write(self.style.SUCCESS(f"Staff user {user.username} saved with role {role}{where}."))
