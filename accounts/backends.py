"""Sign-in by phone number, email or (staff) username with one password."""

import functools

import phonenumbers
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connections, router

from accounts.models import User
from heyon_site.db import instance_by_pk, reusable_plan_cursor


def parse_phone(raw: str, region: str = "CN"):
    """Return the E.164 form of a valid mobile number, or None."""
    try:
        number = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_identifier(identifier: str) -> str:
    """One spelling per account, so lockouts count '138 0013 8000' and '+8613800138000' together."""
    identifier = (identifier or "").strip()
    if "@" in identifier:
        return identifier.lower()
    return parse_phone(identifier) or identifier


def find_user_by_identifier(identifier: str) -> User | None:
    identifier = normalize_identifier(identifier)
    if not identifier:
        return None
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier).first()
    if identifier.startswith("+"):
        return User.objects.filter(phone=identifier).first()
    return User.objects.filter(username=identifier, is_staff=True).first()


def axes_identifier(request, credentials):
    return normalize_identifier((credentials or {}).get("username", ""))


class IdentifierBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        user = find_user_by_identifier(username)
        if user is None:
            # Spend the same time as a real check so response times reveal nothing.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        """ModelBackend's answer, read with a query planned once per connection.

        Every signed-in request reads its user. Compiling the ORM query cost more CPU than
        the rest of a cached account centre page; the row is the same, and so is the rule
        (an inactive user is nobody).
        """
        try:
            user = instance_by_pk(User, User._meta.pk.to_python(user_id))
        except ValidationError:
            return None
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        """ModelBackend's answer (the user's own and their groups' permissions) in one plain query.

        Every staff request checks a permission. Building ModelBackend's two ORM queries
        cost more CPU than the rest of a small staff request; this SQL is built once from
        the models' tables. Cached on the user object for the request, as ModelBackend does.
        """
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            alias = router.db_for_read(Permission)
            with reusable_plan_cursor(alias) as cursor:
                cursor.execute(_permissions_sql(alias), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
        return user_obj._perm_cache


@functools.cache
def _permissions_sql(alias: str) -> str:
    """The app label and codename of a user's own permissions and of their groups' (user id twice)."""
    quote = connections[alias].ops.quote_name

    def table(model):
        return quote(model._meta.db_table)

    def column(model, name):
        return quote(model._meta.get_field(name).column)

    own = User._meta.get_field("user_permissions")
    groups = User._meta.get_field("groups")
    granted = Group._meta.get_field("permissions")
    own_table, groups_table, granted_table = (
        quote(field.remote_field.through._meta.db_table) for field in (own, groups, granted)
    )
    permission, content_type = table(Permission), table(ContentType)
    # Names come from the models' meta, quoted; the user id is a parameter.
    return (
        f"SELECT ct.{column(ContentType, 'app_label')}, p.{column(Permission, 'codename')} "  # noqa: S608
        f"FROM {permission} p JOIN {content_type} ct ON ct.{column(ContentType, 'id')} = "
        f"p.{column(Permission, 'content_type')} "
        f"WHERE p.{column(Permission, 'id')} IN ("
        f"SELECT {quote(own.m2m_reverse_name())} FROM {own_table} WHERE {quote(own.m2m_column_name())} = %s "
        f"UNION SELECT g.{quote(granted.m2m_reverse_name())} FROM {granted_table} g "
        f"JOIN {groups_table} ug ON ug.{quote(groups.m2m_reverse_name())} = g.{quote(granted.m2m_column_name())} "
        f"WHERE ug.{quote(groups.m2m_column_name())} = %s)"
    )
