"""Every staff page as every role, as a customer and as an anonymous visitor.

The matrix has one row per ``staff/`` URL pattern; a new staff URL without a row fails
``test_the_matrix_covers_every_staff_url``. A row says which roles may use the page and
how to make a request that passes the permission check when allowed (a GET, or a POST
with data). Allowed means 200 or a redirect within /staff/; refused means 403 or 404 for
a signed-in person and a redirect to the sign-in page for an anonymous visitor.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reviews import photos
from reviews import services as review_services
from reviews.models import QualitySample, Submission
from tests.factories import CustomerFactory, make_line, make_staff
from tests.reviews.payloads import small_jpeg
from tests.staff.conftest import ROLES, World, pending_submission

pytestmark = pytest.mark.django_db

EVERY_STAFF = frozenset(ROLES)
REVIEWERS = frozenset({"reviewer", "senior_reviewer", "admin"})
SENIOR = frozenset({"senior_reviewer", "admin"})
SUPPORT = frozenset({"support", "admin"})
DESK = frozenset({"clerk", "admin"})
CUSTOMER_LOOKUP = frozenset({"senior_reviewer", "support", "admin"})
CERTIFICATES = frozenset({"senior_reviewer", "clerk", "support", "admin"})


def fresh_submission(world: World, user) -> Submission:
    return pending_submission()


def claimed_submission(world: World, user) -> Submission:
    """A fresh submission claimed by ``user`` (whatever their role: the page must still refuse)."""
    submission = pending_submission()
    if user is not None:
        review_services.submission_claim(submission_id=submission.pk, actor=user)
    return submission


@dataclass(frozen=True)
class Row:
    """One staff URL: who may use it and how to call it."""

    name: str
    allowed: frozenset
    method: str = "get"
    args: Callable[[World, object], list] = lambda world, user: []
    data: Callable[[World, object], dict] = field(default=lambda world, user: {})

    def request(self, client: Client, world: World, user):
        path = reverse(self.name, args=self.args(world, user))
        return path, getattr(client, self.method)(path, self.data(world, user))


def _claimed(world, user):
    return [claimed_submission(world, user).pk]


def _approve(world, user):
    return {"decision": "approve"}


def _approved(world, user):
    """A fresh submission approved by a reviewer of its own (the one to revoke)."""
    submission = pending_submission()
    decider = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=decider)
    review_services.submission_approve(submission_id=submission.pk, actor=decider)
    return [submission.pk]


def _kept_at_the_desk(world, user):
    """A new line with a photo ``user``'s desk form keeps for it (the thumbnail is theirs to see, if anyone's)."""
    line, _code = make_line()
    if user is not None and user.is_staff:
        photo = photos.process_photo(SimpleUploadedFile("front.jpg", small_jpeg(seed=5)), kind="id_front")
        review_services.desk_draft_photo_keep(clerk=user, line=line, kind="id_front", photo=photo)
    return [line.pk, "id_front"]


def _sampled(world, user):
    """A quality sample of a fresh rejection by a reviewer of its own (the one to check)."""
    submission = pending_submission()
    decider = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=decider)
    review_services.submission_reject(submission_id=submission.pk, actor=decider, reason_codes=["IMG_BLURRY"])
    sample = QualitySample.objects.create(submission=submission, decision="rejected", decided_by=decider)
    return [sample.pk]


MATRIX = [
    Row("customers:staff_home", EVERY_STAFF),
    Row("reviews:samples", SENIOR),
    Row("reviews:sample_check", SENIOR, method="post", args=_sampled, data=lambda world, user: {"outcome": "confirm"}),
    Row("accounts:two_factor", EVERY_STAFF),
    Row("reviews:queue", REVIEWERS),
    Row("reviews:claim_next", REVIEWERS, method="post"),
    Row("reviews:review", REVIEWERS, args=lambda world, user: [world.submission.pk]),
    Row("reviews:claim", REVIEWERS, method="post", args=lambda world, user: [fresh_submission(world, user).pk]),
    Row("reviews:release", REVIEWERS, method="post", args=_claimed),
    Row("reviews:claim_renew", REVIEWERS, method="post", args=_claimed),
    Row("reviews:decide", REVIEWERS, method="post", args=_claimed, data=_approve),
    Row("reviews:escalate", REVIEWERS, method="post", args=_claimed, data=lambda world, user: {"note": "Face?"}),
    Row(
        "reviews:revoke",
        SENIOR,
        method="post",
        args=_approved,
        data=lambda world, user: {"reason_codes": "DOC_TAMPERED"},
    ),
    Row("reviews:desk", DESK),
    Row("reviews:desk_lookup", DESK, method="post", data=lambda world, user: {"activation_code": make_line()[1]}),
    Row("reviews:desk_verify", DESK, method="post", data=lambda world, user: {"activation_code": "NOT-A-REAL-CODE"}),
    Row("reviews:desk_draft_photo", DESK, args=_kept_at_the_desk),
    Row("reviews:desk_certificate", CERTIFICATES, args=lambda world, user: [world.certificate.number]),
    Row("reviews:desk_certificate_pdf", CERTIFICATES, args=lambda world, user: [world.certificate.number]),
    Row("billing:store_renew", DESK),
    Row("billing:store_receipt", DESK, args=lambda world, user: [world.receipt.number]),
    Row("customers:staff_support", SUPPORT),
    Row("customers:staff_support_thread", SUPPORT, args=lambda world, user: [world.thread.pk]),
    Row("customers:staff_customers", CUSTOMER_LOOKUP),
    Row("customers:staff_customer", CUSTOMER_LOOKUP, args=lambda world, user: [world.customer.pk]),
    Row("customers:staff_audit", SUPPORT),
    Row("customers:staff_cancellations", SUPPORT),
    Row("customers:staff_cancellation", SUPPORT, args=lambda world, user: [world.cancellation.pk]),
]

# The header's staff links and the page each opens.
NAV_LINKS = {
    "customers:staff_home",
    "reviews:desk",
    "reviews:queue",
    "customers:staff_support",
    "customers:staff_customers",
    "customers:staff_audit",
    "customers:staff_cancellations",
}


def staff_url_patterns() -> dict[str, str]:
    """Every URL pattern under ``staff/``: {"namespace:name": route}."""
    found = {}

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and route.startswith("staff/"):
                found[f"{namespace}:{pattern.name}" if namespace else pattern.name] = route

    walk(get_resolver().url_patterns, "", None)
    return found


def test_the_matrix_covers_every_staff_url():
    patterns = staff_url_patterns()

    assert len(patterns) >= 22
    assert {row.name for row in MATRIX} == set(patterns), "add a matrix row for each new staff URL"
    assert len(MATRIX) == len({row.name for row in MATRIX})


def allowed(response) -> bool:
    if response.status_code == 200:
        return True
    return response.status_code == 302 and response["Location"].startswith("/staff/")


def refused(response) -> bool:
    return response.status_code in (403, 404)


def sent_to_sign_in(response, path) -> bool:
    return response.status_code == 302 and response["Location"].startswith(f"/accounts/login/?next={path}")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_staff_pages_it_may_use(client, world, role):
    user = world.staff[role]
    client.force_login(user)
    wrong = []
    for row in MATRIX:
        path, response = row.request(client, world, user)
        may = role in row.allowed
        if may and not allowed(response):
            wrong.append(f"{row.name} {path}: {role} may use it but got {response.status_code}")
        if not may and not refused(response):
            wrong.append(f"{row.name} {path}: {role} must be refused but got {response.status_code}")

    assert not wrong, "\n".join(wrong)


def test_a_customer_is_refused_every_staff_page(client, world):
    client.force_login(world.customer)
    wrong = []
    for row in MATRIX:
        path, response = row.request(client, world, world.customer)
        if not refused(response):
            wrong.append(f"{row.name} {path}: a customer got {response.status_code}")

    assert not wrong, "\n".join(wrong)


def test_an_anonymous_visitor_is_sent_to_sign_in_from_every_staff_page(client, world):
    wrong = []
    for row in MATRIX:
        path, response = row.request(client, world, None)
        if not sent_to_sign_in(response, path):
            wrong.append(f"{row.name} {path}: anonymous got {response.status_code} {response.get('Location')}")

    assert not wrong, "\n".join(wrong)


def test_refused_staff_change_nothing(client, world):
    """A clerk posting a decision on a submission claimed in their name leaves it undecided."""
    clerk = world.staff["clerk"]
    submission = claimed_submission(world, clerk)
    client.force_login(clerk)

    response = client.post(reverse("reviews:decide", args=[submission.pk]), {"decision": "approve"})

    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW and submission.decided_by is None


def nav_links(response) -> set[str]:
    html = response.content.decode()
    nav = html[html.index("<nav") : html.index("</nav>")]
    return set(re.findall(r'href="([^"]+)"', nav))


@pytest.mark.parametrize("role", ROLES)
def test_the_header_shows_a_role_only_the_staff_links_it_may_use(client, world, role):
    client.force_login(world.staff[role])

    links = nav_links(client.get("/staff/"))

    by_row = {row.name: row for row in MATRIX}
    shown = {name for name in NAV_LINKS if reverse(name) in links}
    assert shown == {name for name in NAV_LINKS if role in by_row[name].allowed}
    staff_links = {link for link in links if link.startswith("/staff/")}
    assert staff_links == {reverse(name) for name in shown}
    assert reverse("admin:index") in links
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_customer_sees_no_staff_or_admin_links(client):
    customer = CustomerFactory()
    client.force_login(customer)

    links = nav_links(client.get("/account/"))

    assert links, "the header has links"
    assert not {link for link in links if link.startswith(("/staff/", "/admin/"))}
    assert client.get(reverse("admin:index")).status_code == 302


# The sign-in backend leaves users and permissions to Django's ModelBackend.


def test_staff_have_their_own_permissions_and_their_groups_and_an_inactive_user_none():
    from django.contrib.auth.models import Group, Permission

    from accounts.backends import IdentifierBackend
    from accounts.models import User

    reviewer = make_staff("reviewer")
    own = Permission.objects.get(codename="view_full_id_number")
    shared = Permission.objects.get(codename="decide_escalated")
    reviewer.user_permissions.add(own, shared)
    extra = Group.objects.create(name="backend-test-extra")
    extra.permissions.add(shared, Permission.objects.get(codename="revoke_approval"))
    reviewer.groups.add(extra)
    nobody = CustomerFactory()
    inactive = make_staff("support")
    User.objects.filter(pk=inactive.pk).update(is_active=False)

    assert IdentifierBackend().get_all_permissions(User.objects.get(pk=nobody.pk)) == set()
    assert IdentifierBackend().get_all_permissions(User.objects.get(pk=inactive.pk)) == set()
    answered = IdentifierBackend().get_all_permissions(User.objects.get(pk=reviewer.pk))
    assert {"reviews.view_full_id_number", "reviews.decide_escalated", "reviews.revoke_approval"} <= answered
    assert "reviews.review_submission" in answered  # from the reviewer role's group
