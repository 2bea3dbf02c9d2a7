"""A new line carries the plan it was sold with, and its allowances, from activation (problem 6)."""

import csv
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from accounts import services as account_services
from accounts.models import Line
from billing.models import LineService, Plan
from reviews import services as review_services
from reviews.demo import resident_id
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff

pytestmark = pytest.mark.django_db


def plan(code) -> Plan:
    return Plan.objects.get(code=code, is_current=True)


def approve_online(user):
    submission = review_services.submission_create(
        user=user,
        full_name="王芳",
        id_number=resident_id(sequence="451"),
        contact_phone=user.phone.as_e164,
        photos=None,
        actor=user,
    )
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    review_services.submission_approve(submission_id=submission.pk, actor=reviewer)


def assert_started_on(line, code):
    service = LineService.objects.select_related("plan").get(line=line)
    expected = plan(code)
    assert service.plan == expected
    assert (service.data_left_mb, service.voice_left_minutes, service.sms_left) == (
        expected.data_mb,
        expected.voice_minutes,
        expected.sms_count,
    )


def test_a_line_approved_online_starts_on_the_default_plan_with_its_allowances(settings):
    settings.DEFAULT_LINE_PLAN = "standard"
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    assert not LineService.objects.filter(line=line).exists()  # waiting: no plan running yet

    approve_online(user)

    assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
    assert_started_on(line, "standard")


def test_a_line_sold_with_a_plan_starts_on_it(settings):
    settings.DEFAULT_LINE_PLAN = "basic"
    user = CustomerFactory()
    line, code = account_services.line_create(
        msisdn="+8617099990001", iccid="89861199990000000011", plan_code="premium"
    )
    account_services.line_attach(actor=user, activation_code=code)

    approve_online(user)

    assert_started_on(line, "premium")


def test_a_desk_verification_starts_the_line_on_its_plan():
    clerk = make_staff("clerk", service_point=ServicePointFactory())
    line, code = account_services.line_create(
        msisdn="+8617099990002", iccid="89861199990000000012", plan_code="standard"
    )

    review_services.submission_verify_in_person(
        actor=clerk,
        activation_code=code,
        full_name="王芳",
        id_number=resident_id(sequence="452"),
        customer_phone="+8613512340009",
    )

    assert_started_on(line, "standard")


def test_a_line_added_by_a_verified_customer_starts_at_once_and_an_unknown_code_falls_back(settings):
    settings.DEFAULT_LINE_PLAN = "basic"
    user = CustomerFactory()
    make_line(owner=user)
    approve_online(user)
    line, code = account_services.line_create(msisdn="+8617099990003", iccid="89861199990000000013", plan_code="gone")

    account_services.line_attach(actor=user, activation_code=code)

    assert_started_on(line, "basic")


def test_a_suspended_line_coming_back_keeps_what_it_had(settings):
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    approve_online(user)
    LineService.objects.filter(line=line).update(data_left_mb=7)
    account_services.user_revoke_real_name_verification(user=user, actor=None, reason="test")

    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")

    assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
    assert LineService.objects.get(line=line).data_left_mb == 7


def test_the_account_centre_shows_the_plan_and_allowances_of_a_new_line(client, settings):
    settings.DEFAULT_LINE_PLAN = "basic"
    user = CustomerFactory()
    make_line(owner=user)
    approve_online(user)
    client.cookies["django_language"] = "en"
    client.force_login(user)

    content = client.get("/account/").content.decode()

    basic = plan("basic")
    assert f"{basic.name_en} · Data left {basic.data_mb // 1024} GB · Minutes left {basic.voice_minutes}" in content


def test_the_import_reads_the_plan_column(tmp_path):
    path = tmp_path / "lines.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["msisdn", "iccid", "plan"])
        writer.writerow(["17099990004", "89861199990000000014", "premium"])
        writer.writerow(["17099990005", "89861199990000000015", ""])
    with translation.override("en"):
        call_command("import_lines", str(path), stdout=StringIO())

    assert dict(Line.objects.values_list("iccid", "plan_code")) == {
        "89861199990000000014": "premium",
        "89861199990000000015": "",
    }
