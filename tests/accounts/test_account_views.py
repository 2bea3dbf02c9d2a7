"""Account centre, lines, messages and the service point finder through the pages."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Line, Notification, ServicePoint
from accounts.services import lines
from tests.accounts.conftest import page_shows
from tests.factories import CustomerFactory, ServicePointFactory, make_line

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(english):
    """Every page here is read in English; the default language is tested in test_site."""


@pytest.fixture
def customer(client):
    user = CustomerFactory(phone="+8613800138000")
    client.force_login(user)
    return user


def make_notifications(user, count, read=False):
    now = timezone.now()
    return Notification.objects.bulk_create(
        Notification(
            user=user,
            legacy_subject=f"Message {n:02d}",
            legacy_body=f"Body {n:02d}",
            created_at=now - timedelta(minutes=count - n),
            read_at=now if read else None,
        )
        for n in range(count)
    )


# Anonymous visitors ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/account/", "/account/lines/add/", "/notifications/"])
def test_anonymous_visitor_is_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_anonymous_visitor_cannot_mark_messages_read(client):
    someone = CustomerFactory()
    make_notifications(someone, 2)

    response = client.post("/notifications/read/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Notification.objects.filter(read_at__isnull=True).count() == 2


# Account centre --------------------------------------------------------------------------


def test_account_centre_shows_the_customers_lines_and_not_another_customers(client, customer):
    mine, _ = make_line(owner=customer)
    theirs, _ = make_line(owner=CustomerFactory())

    response = client.get("/account/")

    assert response.status_code == 200
    assert [line for line, _service in response.context["lines"]] == [mine]
    content = response.content.decode()
    assert mine.msisdn.as_national in content
    assert theirs.msisdn.as_national not in content
    assert "Waiting for real-name verification" in content


def test_account_centre_shows_validity_end_of_an_active_line(client, customer):
    customer.real_name_verified_at = timezone.now()
    customer.save(update_fields=["real_name_verified_at"])
    line, _ = make_line(owner=customer)
    line.refresh_from_db()

    response = client.get("/account/")

    expected_end = f"{timezone.localtime(line.validity_end):%Y-%m-%d}"
    assert re.search(rf'Valid until <span data-testid="validity-end">{expected_end}</span>', response.content.decode())
    assert re.search(r'data-testid="line-status"[^>]*>Active<', response.content.decode())


def queries_for(client, path) -> int:
    client.get(path)  # warm-up: per-process caches are not the page's cost
    cache.clear()  # the page itself must be rendered, not served from its cache
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_account_centre_runs_the_same_number_of_queries_for_1_and_20_lines(client, customer, django_assert_num_queries):
    make_line(owner=customer)
    make_notifications(customer, 1)
    for_one_line = queries_for(client, "/account/")
    for _ in range(19):
        make_line(owner=customer)
    make_notifications(customer, 19)

    with django_assert_num_queries(for_one_line):
        response = client.get("/account/")

    assert len(response.context["lines"]) == 20
    assert len(response.context["recent_notifications"]) == 5


# Lines -----------------------------------------------------------------------------------


def test_attaching_a_line_with_its_activation_code_waits_for_verification(client, customer, sent):
    line, code = make_line()

    with sent():
        response = client.post("/account/lines/add/", {"activation_code": code.lower().replace("-", "")})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    line.refresh_from_db()
    assert line.owner == customer
    assert line.status == Line.Status.INACTIVE
    assert line.validity_end is None
    follow = client.get("/account/")
    assert page_shows(follow, f"Line {line.msisdn.as_national} is now on your account.")


def test_attaching_a_line_when_verified_activates_it_for_a_year(client, customer):
    customer.real_name_verified_at = timezone.now()
    customer.save(update_fields=["real_name_verified_at"])
    line, code = make_line()

    response = client.post("/account/lines/add/", {"activation_code": f" {code.lower()} "})

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.owner == customer
    assert line.status == Line.Status.ACTIVE
    assert abs(line.validity_end - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)


def test_unknown_activation_code_is_refused_with_a_clear_message(client, customer):
    make_line()

    response = client.post("/account/lines/add/", {"activation_code": "ABCD-EFGH-JKMN-PQRS"})

    assert response.status_code == 200
    assert response.context["form"].errors["activation_code"] == [str(lines.ERR_CODE_UNKNOWN)]
    assert page_shows(response, lines.ERR_CODE_UNKNOWN)
    assert not Line.objects.filter(owner=customer).exists()


def test_activation_code_already_used_is_refused_with_a_clear_message(client, customer):
    line, code = make_line(owner=CustomerFactory())

    response = client.post("/account/lines/add/", {"activation_code": code})

    assert response.context["form"].errors["activation_code"] == [str(lines.ERR_CODE_USED)]
    assert page_shows(response, lines.ERR_CODE_USED)
    line.refresh_from_db()
    assert line.owner != customer


def test_empty_activation_code_is_refused(client, customer):
    response = client.post("/account/lines/add/", {"activation_code": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["activation_code"] == ["This field is required."]


# Notifications ---------------------------------------------------------------------------


def test_notifications_are_paged_newest_first_with_a_before_key(client, customer):
    make_notifications(customer, 25)
    make_notifications(CustomerFactory(), 3)

    first = client.get("/notifications/")

    subjects = [n.subject for n in first.context["page"]]
    assert subjects == [f"Message {n:02d}" for n in range(24, 4, -1)]
    next_before = first.context["next_before"]
    assert f'href="?before={next_before}"' in first.content.decode()

    second = client.get(f"/notifications/?before={next_before}")

    assert [n.subject for n in second.context["page"]] == [f"Message {n:02d}" for n in range(4, -1, -1)]
    assert second.context["next_before"] is None
    assert 'href="?before=' not in second.content.decode()


def test_notifications_page_ignores_a_malformed_before_key(client, customer):
    make_notifications(customer, 2)

    response = client.get("/notifications/?before=abc")

    assert response.status_code == 200
    assert len(response.context["page"]) == 2


def test_unread_count_shows_in_the_header(client, customer):
    make_notifications(customer, 3)
    make_notifications(customer, 2, read=True)
    make_notifications(CustomerFactory(), 4)

    response = client.get("/service-points/")

    assert re.search(r'data-testid="unread-count"[^>]*>\s*3\s*<', response.content.decode())


def test_mark_all_read_marks_only_the_customers_messages(client, customer):
    make_notifications(customer, 3)
    someone = CustomerFactory()
    make_notifications(someone, 2)

    response = client.post("/notifications/read/")

    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert not Notification.objects.filter(user=customer, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=someone, read_at__isnull=True).count() == 2
    assert 'data-testid="unread-count"' not in client.get("/notifications/").content.decode()


def test_mark_all_read_is_post_only(client, customer):
    make_notifications(customer, 1)

    assert client.get("/notifications/read/").status_code == 405
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_notifications_page_runs_the_same_number_of_queries_for_1_and_20_messages(
    client, customer, django_assert_num_queries
):
    make_notifications(customer, 1)
    for_one_message = queries_for(client, "/notifications/")
    make_notifications(customer, 19)

    with django_assert_num_queries(for_one_message):
        response = client.get("/notifications/")

    assert len(response.context["page"]) == 20


# Service point finder --------------------------------------------------------------------


def test_service_point_finder_filters_by_city_and_kind(client):
    ServicePointFactory(name="朝阳门营业厅", city="北京", kind=ServicePoint.Kind.BOTH)
    ServicePointFactory(name="中关村认证点", city="北京", kind=ServicePoint.Kind.VERIFICATION)
    ServicePointFactory(name="西单授权店", city="北京", kind=ServicePoint.Kind.STORE)
    ServicePointFactory(name="徐家汇授权店", city="上海", kind=ServicePoint.Kind.STORE)
    ServicePointFactory(name="已关闭营业厅", city="北京", kind=ServicePoint.Kind.BOTH, is_active=False)

    def names(query):
        response = client.get(f"/service-points/{query}")
        assert response.status_code == 200
        return sorted(point.name for point in response.context["points"])

    assert names("") == sorted(["朝阳门营业厅", "中关村认证点", "西单授权店", "徐家汇授权店"])
    assert names("?city=上海") == ["徐家汇授权店"]
    assert names("?city=北京&kind=store") == sorted(["朝阳门营业厅", "西单授权店"])
    assert names("?city=北京&kind=verification") == sorted(["朝阳门营业厅", "中关村认证点"])
    assert names("?kind=nonsense") == names("")
    assert names("?city=广州") == []
    response = client.get("/service-points/?city=上海")
    assert "徐家汇授权店" in response.content.decode()
    assert "朝阳门营业厅" not in response.content.decode()
