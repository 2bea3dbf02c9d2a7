from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from accounts import services
from accounts.models import Line, ServicePoint, User
from tests.factories import ServicePointFactory

pytestmark = pytest.mark.django_db

ROLES = ["admin", "clerk", "reviewer", "senior_reviewer", "support"]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# create_staff_user -----------------------------------------------------------------------


def test_create_staff_user_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("HEYON_STAFF_PASSWORD", "desk-secret-2026")
    point = ServicePointFactory(code="bj-chaoyang")

    output = run("create_staff_user", "zhang.clerk", "--role", "clerk", "--service-point", "bj-chaoyang")

    user = User.objects.get(username="zhang.clerk")
    assert user.is_staff and user.is_active and not user.is_superuser
    assert user.check_password("desk-secret-2026")
    assert list(user.groups.values_list("name", flat=True)) == ["clerk"]
    assert user.service_point == point
    assert "zhang.clerk" in output and "clerk" in output and "bj-chaoyang" in output


def test_create_staff_user_again_changes_the_role(monkeypatch):
    monkeypatch.setenv("HEYON_STAFF_PASSWORD", "desk-secret-2026")
    run("create_staff_user", "li.support", "--role", "support")

    run("create_staff_user", "li.support", "--role", "senior_reviewer")

    user = User.objects.get(username="li.support")
    assert list(user.groups.values_list("name", flat=True)) == ["senior_reviewer"]


def test_create_staff_user_refuses_an_unknown_service_point(monkeypatch):
    monkeypatch.setenv("HEYON_STAFF_PASSWORD", "desk-secret-2026")

    with pytest.raises(CommandError, match="nowhere"):
        run("create_staff_user", "zhang.clerk", "--role", "clerk", "--service-point", "nowhere")

    assert not User.objects.filter(username="zhang.clerk").exists()


def test_create_staff_user_refuses_an_unknown_role(monkeypatch):
    monkeypatch.setenv("HEYON_STAFF_PASSWORD", "desk-secret-2026")

    with pytest.raises(CommandError, match="invalid choice"):
        run("create_staff_user", "zhang", "--role", "boss")

    assert not User.objects.filter(username="zhang").exists()


def test_create_staff_user_without_a_password_or_terminal_refuses(monkeypatch):
    monkeypatch.delenv("HEYON_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("os.isatty", lambda fd: False)

    with pytest.raises(CommandError, match="HEYON_STAFF_PASSWORD"):
        run("create_staff_user", "zhang", "--role", "reviewer")

    assert not User.objects.filter(username="zhang").exists()


# Roles -----------------------------------------------------------------------------------


def test_roles_migration_created_the_staff_groups_with_permissions():
    assert set(ROLES) <= set(Group.objects.values_list("name", flat=True))
    reviewer = Group.objects.get(name="reviewer")
    assert reviewer.permissions.filter(codename="view_line", content_type__app_label="accounts").exists()
    assert not reviewer.permissions.filter(codename="view_user").exists()
    assert Group.objects.get(name="senior_reviewer").permissions.filter(codename="view_user").exists()
    assert Group.objects.get(name="clerk").permissions.filter(codename="view_servicepoint").exists()
    assert Group.objects.get(name="support").permissions.filter(codename="view_auditevent").exists()
    admin_permissions = Group.objects.get(name="admin").permissions
    assert admin_permissions.filter(codename="change_line").exists()
    assert admin_permissions.count() >= Permission.objects.filter(content_type__app_label="accounts").count()


# seed_demo -------------------------------------------------------------------------------


def test_seed_demo_runs_twice_and_prints_working_logins_and_codes(monkeypatch):
    monkeypatch.delenv("HEYON_STAFF_PASSWORD", raising=False)

    first = run("seed_demo")
    second = run("seed_demo")

    for output in (first, second):
        assert "+8613800138000" in output
        assert "heyon-demo-2026" in output
        for login in ("reviewer", "senior", "clerk", "support", "admin"):
            assert login in output
        assert "Fresh activation codes" in output
    assert ServicePoint.objects.count() == 5
    assert User.objects.filter(is_staff=True).count() == 6
    assert User.objects.filter(phone="+8613800138000").count() == 1
    assert Line.objects.filter(owner__isnull=True).count() == 6  # three fresh lines per run
    verified = User.objects.get(phone="+8613800138000")
    assert verified.is_real_name_verified
    assert verified.lines.get().status == Line.Status.ACTIVE
    # Verified through an approved online submission, which staff can open and revoke.
    assert verified.submissions.get().status == "approved"
    assert User.objects.get(phone="+8613900139000").lines.get().status == Line.Status.INACTIVE
    clerk = User.objects.get(username="clerk")
    assert clerk.service_point.code == "bj-chaoyang"
    assert clerk.check_password("heyon-demo-2026")
    # The printed activation codes are real: one attaches a line.
    code = second.strip().splitlines()[-1].split()[0]
    customer = User.objects.get(phone="+8613700137000")
    assert services.line_attach(actor=customer, activation_code=code).owner == customer
