"""The review screen (issue 15): safe decisions, the reason picker, claims that respect the
reviewer, filters kept through decide-and-next, the decided screen, the investigation panel
and four eyes for final rejections. Through HTTP, in English."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Notification
from reviews import services
from reviews.models import PhotoAccess, Submission, SubmissionEvent, SubmissionPhoto
from reviews.services import ERR_CLAIM_TAKEN, ERR_FOUR_EYES_SAME_PERSON, ERR_LINE_LIMIT_ONLY_REJECT
from tests.factories import CustomerFactory, make_line, make_staff
from tests.reviews.conftest import expire_claim, page_shows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(english):
    """Every page here is read in English."""


def review_url(submission, query=""):
    return reverse("reviews:review", args=[submission.pk]) + query


def decide_url(submission):
    return reverse("reviews:decide", args=[submission.pk])


def claim(submission, actor):
    services.submission_claim(submission_id=submission.pk, actor=actor)
    return submission


def status_of(submission):
    return Submission.objects.values_list("status", flat=True).get(pk=submission.pk)


@pytest.fixture
def flagged(submit, photo_set):
    """A submission whose photos another account used first: flagged "photo used by another account"."""
    first = submit(photos=photo_set)
    second = submit(photos=photo_set)
    assert "duplicate_photo" in second.flags
    return first, second


# Safe decisions --------------------------------------------------------------------------------


def test_approving_a_flagged_submission_needs_a_confirmation_naming_the_flag(client, reviewer, flagged):
    submission = claim(flagged[1], reviewer)
    client.force_login(reviewer)

    refused = client.post(decide_url(submission), {"decision": "approve"})

    assert refused.status_code == 400
    assert page_shows(refused, "Photo used by another account")
    assert 'data-testid="confirm-error"' in refused.content.decode()
    assert status_of(submission) == Submission.Status.IN_REVIEW
    assert not SubmissionEvent.objects.filter(submission=submission, verb="approved").exists()

    confirmed = client.post(decide_url(submission), {"decision": "approve", "confirm": ["flag:duplicate_photo"]})

    assert confirmed.status_code == 302
    assert status_of(submission) == Submission.Status.APPROVED


def test_a_confirmation_of_something_else_does_not_count(client, reviewer, flagged):
    submission = claim(flagged[1], reviewer)
    client.force_login(reviewer)

    response = client.post(
        decide_url(submission),
        {"decision": "reject", "reason_codes": ["FACE_MISMATCH"], "confirm": ["reason:UNDERAGE"]},
    )

    assert response.status_code == 400
    assert status_of(submission) == Submission.Status.IN_REVIEW


@pytest.mark.parametrize("code", ["FACE_MISMATCH", "DUPLICATE_IDENTITY", "DOC_TAMPERED", "UNDERAGE"])
def test_rejecting_with_a_final_reason_needs_its_confirmation(client, submit, reviewer, code):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)

    refused = client.post(decide_url(submission), {"decision": "reject", "reason_codes": [code]})

    assert refused.status_code == 400
    assert page_shows(refused, code)
    assert status_of(submission) == Submission.Status.IN_REVIEW

    data = {"decision": "reject", "reason_codes": [code, "IMG_BLURRY"], "confirm": [f"reason:{code}"]}
    assert client.post(decide_url(submission), data).status_code == 302
    assert status_of(submission) == Submission.Status.REJECTED


def test_retryable_reasons_and_plain_approvals_need_no_confirmation(client, submit, reviewer, flagged):
    plain = claim(submit(photos=None), reviewer)
    flagged_one = claim(flagged[1], reviewer)
    client.force_login(reviewer)

    assert client.post(decide_url(plain), {"decision": "approve"}).status_code == 302
    response = client.post(decide_url(flagged_one), {"decision": "reject", "reason_codes": ["IMG_GLARE"]})
    assert response.status_code == 302
    assert status_of(flagged_one) == Submission.Status.REJECTED


@pytest.fixture
def over_line_limit(submit, settings):
    """A customer with one waiting line while the limit is 0: only a LINE_LIMIT rejection is possible."""
    settings.MAX_LINES_PER_ID = 0
    customer = CustomerFactory()
    make_line(owner=customer)
    return submit(customer, photos=None)


def test_line_limit_case_offers_only_the_line_limit_rejection(client, reviewer, over_line_limit):
    submission = claim(over_line_limit, reviewer)
    client.force_login(reviewer)

    page = client.get(review_url(submission)).content.decode()

    assert 'name="decision" value="reject"' in page
    assert 'name="decision" value="approve"' not in page
    assert page.count('name="reason_codes"') == 1
    assert 'value="LINE_LIMIT"' in page.split('data-testid="reason-picker"')[1]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        # The approval counts the ID's lines itself, under the lock: the service refuses it.
        ({"decision": "approve"}, 409),
        # A rejection is steered by the form, on today's count.
        ({"decision": "reject", "reason_codes": ["IMG_BLURRY"]}, 400),
        ({"decision": "reject", "reason_codes": ["LINE_LIMIT", "IMG_BLURRY"]}, 400),
    ],
)
def test_line_limit_case_refuses_anything_but_the_line_limit_rejection(client, reviewer, over_line_limit, data, status):
    submission = claim(over_line_limit, reviewer)
    client.force_login(reviewer)

    response = client.post(decide_url(submission), data)

    assert response.status_code == status
    assert page_shows(response, ERR_LINE_LIMIT_ONLY_REJECT)
    assert status_of(submission) == Submission.Status.IN_REVIEW


def test_line_limit_rejection_alone_is_recorded_without_a_confirmation(client, reviewer, over_line_limit):
    submission = claim(over_line_limit, reviewer)
    client.force_login(reviewer)

    response = client.post(decide_url(submission), {"decision": "reject", "reason_codes": ["LINE_LIMIT"]})

    assert response.status_code == 302
    assert status_of(submission) == Submission.Status.REJECTED


# The reason picker ------------------------------------------------------------------------------


def test_reasons_are_grouped_retryable_then_final_and_numbered(client, submit, reviewer):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)

    text = client.get(review_url(submission)).content.decode()

    retry, final = text.split('data-testid="reason-group-retry"')[1].split('data-testid="reason-group-final"')
    assert 'value="IMG_BLURRY"' in retry and 'value="FACE_MISMATCH"' not in retry
    assert 'value="FACE_MISMATCH"' in final and 'value="LINE_LIMIT"' in final
    assert 'data-number="1"' in retry and 'data-final="1"' in final
    assert "data-message-template=" in text  # the customer-message templates


def test_quality_hints_preselect_their_reasons(client, submit, reviewer):
    submission = claim(submit(), reviewer)
    SubmissionPhoto.objects.filter(submission=submission, kind="id_front").update(
        hints={"warnings": ["blurry", "glare"], "width": 1600, "height": 1200, "faces": 1}
    )
    SubmissionPhoto.objects.filter(submission=submission, kind="id_handheld").update(
        hints={"warnings": ["no_face"], "width": 1600, "height": 1200, "faces": 0}
    )
    client.force_login(reviewer)

    page = client.get(review_url(submission)).content.decode()

    checked = {
        chunk.split('value="', 1)[1].split('"', 1)[0]
        for chunk in page.split('name="reason_codes"')[1:]
        if " checked" in chunk.split(">", 1)[0]
    }
    assert checked == {"IMG_BLURRY", "IMG_GLARE", "HANDHELD_BAD"}


# Filters through decide-and-next -----------------------------------------------------------------


def test_decide_and_next_keeps_the_queue_filter(client, submit, reviewer, flagged):
    first_flagged = flagged[1]
    submit()  # unflagged, due earlier than the next flagged one
    second_flagged = submit(photos=None)
    Submission.objects.filter(pk=second_flagged.pk).update(flags={"duplicate_id": {"accounts": [1]}}, is_flagged=True)
    client.force_login(reviewer)

    opened = client.post(reverse("reviews:claim_next"), {"flagged": "1"})
    assert opened["Location"] == review_url(first_flagged, "?flagged=1")
    page = client.get(opened["Location"]).content.decode()
    assert '<input type="hidden" name="flagged" value="1">' in page

    data = {"decision": "reject", "reason_codes": ["IMG_GLARE"], "take_next": "on", "flagged": "1"}
    after = client.post(decide_url(first_flagged), data)

    assert after["Location"] == review_url(second_flagged, "?flagged=1")
    empty = client.post(
        decide_url(second_flagged),
        {"decision": "reject", "reason_codes": ["IMG_DARK"], "take_next": "on", "flagged": "1"},
    )
    assert empty["Location"] == reverse("reviews:queue") + "?flagged=1"


# Claims ----------------------------------------------------------------------------------------------


def test_a_decision_typed_on_an_expired_claim_is_applied_when_nobody_claimed_it_since(client, submit, reviewer):
    submission = claim(submit(photos=None), reviewer)
    expire_claim(submission)
    assert services.submissions_release_expired_claims() == 1  # the lease job put it back in the queue
    client.force_login(reviewer)

    response = client.post(decide_url(submission), {"decision": "reject", "reason_codes": ["IMG_DARK"]})

    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.decided_by) == (Submission.Status.REJECTED, reviewer)
    verbs = list(SubmissionEvent.objects.filter(submission=submission).values_list("verb", flat=True))
    assert verbs == ["submitted", "claimed", "lease_expired", "claimed", "rejected"]


def test_a_decision_typed_on_a_claim_someone_else_took_is_kept_on_screen(client, submit, reviewer, other_reviewer):
    submission = claim(submit(photos=None), reviewer)
    expire_claim(submission)
    assert services.submission_claim_next(actor=other_reviewer).pk == submission.pk
    client.force_login(reviewer)

    data = {"decision": "reject", "reason_codes": ["IMG_DARK", "DOC_COVERED"], "customer_message": "请在光线充足处重拍"}
    response = client.post(decide_url(submission), data)

    assert response.status_code == 409
    page = response.content.decode()
    assert page_shows(response, ERR_CLAIM_TAKEN)
    assert 'data-testid="kept-decision"' in page
    assert "请在光线充足处重拍" in page
    for code in ("IMG_DARK", "DOC_COVERED"):
        assert f'value="{code}" id="reason-{code}"' in page
        assert " checked" in page.split(f'id="reason-{code}"', 1)[1].split(">", 1)[0]
    submission.refresh_from_db()
    assert (submission.status, submission.claimed_by) == (Submission.Status.IN_REVIEW, other_reviewer)


def test_a_reviewer_who_put_it_back_cannot_decide_it_later(client, submit, reviewer):
    submission = claim(submit(photos=None), reviewer)
    services.submission_release(submission_id=submission.pk, actor=reviewer)
    client.force_login(reviewer)

    response = client.post(decide_url(submission), {"decision": "approve"})

    assert response.status_code == 409
    assert status_of(submission) == Submission.Status.PENDING


def test_renewing_extends_the_claim_without_writing_history(client, submit, reviewer):
    submission = claim(submit(photos=None), reviewer)
    submission.refresh_from_db()
    Submission.objects.filter(pk=submission.pk).update(claim_expires_at=submission.claim_expires_at.replace(year=2020))
    events = SubmissionEvent.objects.filter(submission=submission).count()
    client.force_login(reviewer)

    response = client.post(reverse("reviews:claim_renew", args=[submission.pk]))

    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert 14 * 60 < response.json()["seconds_left"] <= 15 * 60
    submission.refresh_from_db()
    assert submission.claim_is_live()
    assert SubmissionEvent.objects.filter(submission=submission).count() == events


def test_renewals_are_audited_at_most_once_per_lease_length(client, submit, reviewer, settings):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)
    renew_url = reverse("reviews:claim_renew", args=[submission.pk])
    noted = AuditEvent.objects.filter(verb="submission.claim_renewed", target_id=str(submission.pk))

    for _ in range(3):
        assert client.post(renew_url).status_code == 200
    assert noted.count() == 0  # the claim itself was audited a moment ago

    AuditEvent.objects.filter(target_id=str(submission.pk)).update(
        created_at=timezone.now() - timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
    )
    for _ in range(3):
        assert client.post(renew_url).status_code == 200
    assert noted.count() == 1
    assert noted.get().actor == reviewer


def test_only_the_claimant_renews(client, submit, reviewer, other_reviewer):
    submission = claim(submit(photos=None), reviewer)
    before = Submission.objects.values_list("claim_expires_at", flat=True).get(pk=submission.pk)
    client.force_login(other_reviewer)

    response = client.post(reverse("reviews:claim_renew", args=[submission.pk]))

    assert response.status_code == 409
    assert response.json()["ok"] is False
    assert Submission.objects.values_list("claim_expires_at", "claimed_by").get(pk=submission.pk) == (
        before,
        reviewer.pk,
    )
    assert client.post(reverse("reviews:claim_renew", args=[999999])).status_code == 404
    assert client.get(reverse("reviews:claim_renew", args=[submission.pk])).status_code == 405


def test_the_review_screen_shows_the_claim_countdown_to_its_claimant(client, submit, reviewer, other_reviewer):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)
    assert 'data-testid="claim-countdown"' in client.get(review_url(submission)).content.decode()
    client.force_login(other_reviewer)
    assert 'data-testid="claim-countdown"' not in client.get(review_url(submission)).content.decode()


# The decided screen ---------------------------------------------------------------------------------


def test_decided_screen_shows_message_note_and_each_later_event_under_its_actor(client, submit, reviewer, decide):
    submission = submit(photos=None)
    decide(submission, reviewer, "approve", message="欢迎使用", note="checked the face twice")
    senior = make_staff("senior_reviewer")
    services.submission_revoke_approval(
        submission_id=submission.pk,
        actor=senior,
        reason_codes=["DOC_TAMPERED"],
        message="证件存疑",
        note="forged hologram",
    )
    client.force_login(reviewer)

    page = client.get(review_url(submission)).content.decode()

    decided = page.split('data-testid="decided"', 1)[1].split("</section>", 1)[0]
    approved, revoked = decided.split('data-verb="approved"', 1)[1].split('data-verb="revoked"', 1)
    assert str(reviewer) in approved and "欢迎使用" in approved and "checked the face twice" in approved
    assert "DOC_TAMPERED" not in approved
    assert str(senior) in revoked and "DOC_TAMPERED" in revoked and "证件存疑" in revoked
    assert "forged hologram" in revoked
    assert str(reviewer) not in revoked


def test_the_reviewer_who_escalated_sees_the_outcome_once_decided(client, submit, reviewer, decide):
    submission = claim(submit(photos=None), reviewer)
    services.submission_escalate(submission_id=submission.pk, actor=reviewer, note="face unclear")
    client.force_login(reviewer)
    assert client.get(review_url(submission)).status_code == 404  # seniors only while it is open

    senior = make_staff("senior_reviewer")
    decide(submission, senior, "reject", ["IMG_BLURRY"], note="too blurred to tell")

    response = client.get(review_url(submission))
    assert response.status_code == 200
    page = response.content.decode()
    assert "too blurred to tell" in page and str(senior) in page
    assert "my-escalations" in page
    other = make_staff("reviewer")
    client.force_login(other)
    assert client.get(review_url(submission)).status_code == 404


# Investigation ------------------------------------------------------------------------------------------


def test_duplicate_panel_lists_the_other_account_with_masked_phone_link_and_photos(client, reviewer, flagged):
    first, submission = flagged
    client.force_login(reviewer)

    page = client.get(review_url(submission)).content.decode()

    panel = page.split('data-testid="investigation"', 1)[1]
    phone = first.user.phone.as_national.replace(" ", "")[-11:]
    masked = phone[:3] + "****" + phone[-4:]
    assert masked in panel
    assert phone not in panel
    assert f'href="{review_url(first)}"' in panel
    other_photo = first.photos.get(kind="id_front")
    assert f"/verification/photos/{other_photo.pk}/thumb/" in panel
    assert not PhotoAccess.objects.exists()


def test_duplicate_panel_gives_no_link_to_what_the_viewer_may_not_open(client, reviewer, flagged):
    first, submission = flagged
    escalator = make_staff("reviewer")
    claim(first, escalator)
    services.submission_escalate(submission_id=first.pk, actor=escalator, note="look")
    client.force_login(reviewer)

    panel = client.get(review_url(submission)).content.decode().split('data-testid="investigation"', 1)[1]

    assert f'href="{review_url(first)}"' not in panel
    assert f"/verification/photos/{first.photos.get(kind='id_front').pk}/" not in panel


def test_earlier_attempts_can_be_opened_and_their_photos_compared(client, submit, reviewer, decide):
    customer = CustomerFactory()
    earlier = submit(customer)
    decide(earlier, reviewer, "reject", ["IMG_DARK"])
    current = submit(customer)
    client.force_login(reviewer)

    page = client.get(review_url(current)).content.decode()

    assert f'href="{review_url(earlier)}"' in page
    assert 'data-group="earlier-latest"' in page
    for photo in earlier.photos.all():
        assert f"/verification/photos/{photo.pk}/full/" in page
    assert client.get(review_url(earlier)).status_code == 200


def test_review_page_queries_do_not_grow_with_earlier_attempts_or_other_accounts(
    client, submit, reviewer, decide, photo_set
):
    counts = []
    for size in (1, 3):
        customer = CustomerFactory()
        for _ in range(size):
            submit(photos=photo_set)  # other accounts using the same photos
        for _ in range(size):
            decide(submit(customer), reviewer, "reject", ["IMG_DARK"])
        current = submit(customer, photos=photo_set)
        claim(current, reviewer)
        client.force_login(reviewer)
        client.get("/staff/reviews/")  # the reviewer's permissions, then kept in the cache
        with CaptureQueriesContext(connection) as context:
            assert client.get(review_url(current)).status_code == 200
        counts.append(len(context.captured_queries))
        for other in Submission.objects.filter(status__in=Submission.OPEN_STATUSES):
            Submission.objects.filter(pk=other.pk).update(
                status=Submission.Status.WITHDRAWN, decided_at=other.submitted_at
            )
    assert counts[0] == counts[1], counts
    assert counts[0] <= 20, counts  # 18 on SQLite (docs/PERFORMANCE.md)


# Four eyes ----------------------------------------------------------------------------------------------


@pytest.fixture
def four_eyes(settings):
    settings.REVIEW_FINAL_REJECTION_FOUR_EYES = True


FACE = {"decision": "reject", "reason_codes": ["FACE_MISMATCH"], "confirm": ["reason:FACE_MISMATCH"]}


def test_four_eyes_a_final_rejection_waits_for_a_second_senior(client, submit, reviewer, four_eyes):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)

    response = client.post(decide_url(submission), {**FACE, "note": "not the same person"}, follow=True)

    assert page_shows(response, "waits for a second senior reviewer")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING
    assert submission.is_escalated and submission.final_rejection_proposed_by == reviewer
    assert submission.final_rejection_proposal["reason_codes"] == ["FACE_MISMATCH"]
    assert not Notification.objects.filter(user=submission.user).exists()  # the customer hears nothing yet
    assert client.get(review_url(submission)).status_code == 404  # a reviewer no longer opens it

    senior = make_staff("senior_reviewer")
    assert services.submission_claim_next(actor=senior).pk == submission.pk
    client.force_login(senior)
    page = client.get(review_url(submission)).content.decode()
    assert 'data-testid="review-proposal"' in page and "not the same person" in page
    assert " checked" in page.split('id="reason-FACE_MISMATCH"', 1)[1].split(">", 1)[0]

    assert client.post(decide_url(submission), FACE).status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.decided_by) == (Submission.Status.REJECTED, senior)
    assert Notification.objects.filter(user=submission.user).exists()


def test_four_eyes_the_proposer_never_decides_their_own_proposal(submit, four_eyes):
    senior, other_senior = make_staff("senior_reviewer"), make_staff("senior_reviewer")
    submission = claim(submit(photos=None), senior)
    services.submission_reject(submission_id=submission.pk, actor=senior, reason_codes=["DOC_TAMPERED"])

    assert services.submission_claim_next(actor=senior) is None
    with pytest.raises(services.ReviewError) as caught:
        services.submission_claim(submission_id=submission.pk, actor=senior)
    assert str(caught.value) == str(ERR_FOUR_EYES_SAME_PERSON)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(
            status=Submission.Status.REJECTED, decided_by=senior, decided_at=submission.submitted_at
        )

    claim(submission, other_senior)
    services.submission_approve(submission_id=submission.pk, actor=other_senior)  # overruled
    assert status_of(submission) == Submission.Status.APPROVED


def test_four_eyes_leaves_retryable_and_line_limit_rejections_alone(client, submit, reviewer, four_eyes):
    submission = claim(submit(photos=None), reviewer)
    client.force_login(reviewer)
    assert client.post(decide_url(submission), {"decision": "reject", "reason_codes": ["IMG_DARK"]}).status_code == 302
    assert status_of(submission) == Submission.Status.REJECTED


def test_erasing_a_customer_clears_a_proposed_final_rejection_too(submit, reviewer, four_eyes):
    submission = claim(submit(photos=None), reviewer)
    services.submission_reject(
        submission_id=submission.pk, actor=reviewer, reason_codes=["FACE_MISMATCH"], note="王小明 is someone else"
    )

    services.submissions_erase_personal_data(user_id=submission.user_id)

    submission.refresh_from_db()
    assert submission.final_rejection_proposal == {}
    assert submission.final_rejection_proposed_by == reviewer  # who proposed it stays, like who decided
