"""factory_boy factories shared by every app's tests."""

import factory
from django.utils import timezone

from accounts import services
from accounts.models import ServicePoint, User

PASSWORD = "correct-horse-42"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    email_verified_at = factory.LazyAttribute(lambda customer: timezone.now() if customer.email else None)
    is_active = True
    phone_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class ServicePointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServicePoint

    code = factory.Sequence(lambda n: f"sp-{n}")
    name = factory.Sequence(lambda n: f"营业厅 {n}")
    kind = ServicePoint.Kind.BOTH
    city = "北京"
    address = "北京市朝阳区建国路 1 号"
    opening_hours = "09:00–18:00"
    phone = "010-1234-5678"


def make_staff(role: str, login: str | None = None, service_point=None) -> User:
    return services.staff_user_create(
        login=login or f"{role}-{User.objects.count() + 1}", role=role, password=PASSWORD, service_point=service_point
    )


_line_serial = iter(range(1, 10**8))


def make_line(owner=None):
    """Create a line; attach it to ``owner`` when given. Return (line, activation_code)."""
    serial = next(_line_serial)
    line, code = services.line_create(msisdn=f"+86170{serial:08d}", iccid=f"8986{serial:015d}1")
    if owner is not None:
        line = services.line_attach(actor=owner, activation_code=code)
    return line, code
