"""An escalated submission is opened by senior reviewers only: its screen, its photos, its data.

A plain reviewer (no ``reviews.decide_escalated``) gets 404 (403 where the page needs a
permission they lack) on every URL that takes a submission or photo id, and nothing of
the submission in the answer; the admin hides it too. The sweep walks the URL resolver,
so a new URL that takes a submission or photo id fails here until it is listed.
"""

import re

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

from reviews import services
from reviews.models import PhotoAccess, Submission
from tests.factories import make_staff
from tests.reviews.conftest import decide, photo_set, submit  # noqa: F401 - fixtures
from tests.security.urls import project_routes

pytestmark = pytest.mark.django_db

FULL_NAME = "欧阳娜娜"
NOTE = "Does the face in the handheld photo match the card?"
ID_PARAMETER = re.compile(r"<(?:\w+:)?(\w*(?:submission|photo)\w*)>")

# How each URL that takes a submission or photo id is called: method and form data.
CASES = {
    "reviews:photo": ("get", {}),
    "reviews:review": ("get", {}),
    "reviews:claim": ("post", {}),
    "reviews:claim_renew": ("post", {}),
    "reviews:release": ("post", {}),
    "reviews:decide": ("post", {"decision": "approve"}),
    "reviews:escalate": ("post", {"note": "again"}),
    "reviews:revoke": ("post", {"reason_codes": ["DOC_TAMPERED"]}),
}


@pytest.fixture
def escalated(submit):  # noqa: F811 - the fixture imported above
    reviewer = make_staff("reviewer")
    submission = submit(full_name=FULL_NAME)
    services.submission_claim(submission_id=submission.pk, actor=reviewer)
    services.submission_escalate(submission_id=submission.pk, actor=reviewer, note=NOTE)
    return Submission.objects.get(pk=submission.pk)


def routes_taking_an_id():
    return {route.name: route for route in project_routes() if ID_PARAMETER.search(route.route)}


def url_for(name, submission):
    route = routes_taking_an_id()[name]
    parameters = ID_PARAMETER.findall(route.route)
    if "photo_id" in parameters:
        return reverse(name, args=[submission.photos.first().pk, "full"])
    return reverse(name, args=[submission.pk])


def state(submission):
    row = Submission.objects.values(
        "status", "claimed_by", "decided_at", "escalated_at", "revoked_at", "internal_note"
    ).get(pk=submission.pk)
    return row, PhotoAccess.objects.count()


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode()


def test_the_sweep_lists_every_url_taking_a_submission_or_photo_id():
    assert set(routes_taking_an_id()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_plain_reviewer_opens_nothing_of_an_escalated_submission(client, escalated, name):
    client.force_login(make_staff("reviewer"))
    method, data = CASES[name]
    before = state(escalated)

    response = getattr(client, method)(url_for(name, escalated), data)

    assert response.status_code in (403, 404), (name, response.status_code)
    content = body(response)
    assert FULL_NAME not in content and NOTE not in content
    assert state(escalated) == before


@pytest.mark.parametrize("name", ["reviews:review", "reviews:photo"])
def test_a_senior_reviewer_opens_the_escalated_submission_and_its_photos(client, escalated, name):
    client.force_login(make_staff("senior_reviewer"))

    response = client.get(url_for(name, escalated))

    assert response.status_code == 200
    if name == "reviews:review":
        assert FULL_NAME in body(response)
    else:
        assert PhotoAccess.objects.filter(photo__submission=escalated).count() == 1


def test_a_plain_reviewer_still_opens_a_submission_that_is_not_escalated(client, submit):  # noqa: F811
    submission = submit(full_name=FULL_NAME)
    client.force_login(make_staff("reviewer"))

    assert client.get(url_for("reviews:review", submission)).status_code == 200
    assert client.get(url_for("reviews:photo", submission)).status_code == 200


def test_an_escalated_earlier_attempt_is_not_shown_on_a_later_ones_screen(client, escalated, submit, decide):  # noqa: F811
    decide(escalated, make_staff("senior_reviewer"), "reject", ["IMG_BLURRY"], note="seen by seniors only")
    later = submit(escalated.user, full_name=FULL_NAME)
    client.force_login(make_staff("reviewer"))

    content = client.get(url_for("reviews:review", later)).content.decode()

    assert f"#{escalated.pk} ·" not in content
    assert "seen by seniors only" not in content


def admin_urls_of(submission):
    """Every admin page of a record that is the submission or belongs to it (change, history)."""
    urls = []
    for model in admin.site._registry:
        if model is Submission:
            record = submission
        else:
            links = [
                field.name
                for field in model._meta.get_fields()
                if isinstance(field, models.ForeignKey) and field.related_model is Submission
            ]
            if not links:
                continue
            record = model.objects.filter(**{links[0]: submission}).first()
            if record is None:
                continue  # e.g. a certificate: online submissions have none
        for view in ("change", "history"):
            urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=[record.pk]))
    return urls


@pytest.mark.parametrize("role", ["reviewer", "senior_reviewer"])
def test_the_admin_shows_an_escalated_submission_to_senior_reviewers_only(client, escalated, role):
    client.force_login(make_staff(role))
    urls = admin_urls_of(escalated)
    assert any("/submission/" in url for url in urls) and any("/submissionevent/" in url for url in urls)

    for url in urls:
        response = client.get(url)
        if role == "reviewer":
            assert response.status_code in (302, 403, 404), url
            assert FULL_NAME not in response.content.decode() and NOTE not in response.content.decode(), url
        elif "/submission/" in url:
            assert response.status_code == 200, url
    changelist = client.get(reverse("admin:reviews_submission_changelist")).content.decode()
    assert (FULL_NAME in changelist or f"/{escalated.pk}/change/" in changelist) == (role == "senior_reviewer")


def test_support_still_finds_an_escalated_submission_in_admin_to_lift_a_final_rejection(client, escalated):
    client.force_login(make_staff("support"))

    response = client.get(reverse("admin:reviews_submission_change", args=[escalated.pk]))

    assert response.status_code == 200
    assert client.get(url_for("reviews:photo", escalated)).status_code == 404  # and no photo, as before
