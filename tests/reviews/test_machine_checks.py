"""Machine checks without the models: parsing read lines, the row's life, erasure, the page, dispatch.

The OCR and face models run in test_machine_checks_images.py; here ``runner.run`` is
replaced where a test is about what the service records, not about what the models see.
"""

import datetime
import importlib
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from reviews import selectors, services, tasks
from reviews.checks import identity, ocr, runner
from reviews.checks.ocr import TextBox, group_lines
from reviews.models import MachineCheck, Submission
from reviews.services import checks as check_services
from tests.factories import CustomerFactory
from tests.images import resident_id
from tests.reviews.conftest import NAME

pytestmark = pytest.mark.django_db

NUMBER = resident_id(region="110105", birth="19900307", sequence="123")  # a man: 17th digit 3 is odd
FRONT_LINES = [
    "姓名张伟明",
    "性别男民族汉",
    "出生1990年3月7日",
    "住址北京市朝阳区建国路88号",
    "院3号楼2单元101室",
    f"公民身份号码{NUMBER}",
]
BACK_LINES = ["中华人民共和国", "居民身份证", "签发机关北京市公安局朝阳分局", "有效期限2016.03.07-2026.03.07"]


def canned_outcome(**changes) -> runner.Outcome:
    """What a run on a good photo set of NAME with ``id_number`` would find."""
    outcome = runner.Outcome(
        fields={"name": {"outcome": "match", "read": NAME, "against": "typed"}},
        sides={"front": "ok", "back": "ok"},
        face_distance=0.31,
        face_band="same",
        document_expiry="valid",
        valid_from=datetime.date(2020, 1, 1),
        valid_until=datetime.date(2040, 1, 1),
        timings={"total": 0.01},
    )
    for key, value in changes.items():
        setattr(outcome, key, value)
    return outcome


@pytest.fixture
def fake_run(monkeypatch):
    """Replace the models' work with ``outcome`` (set ``fake_run.outcome`` or ``fake_run.error``); count calls."""

    class Fake:
        outcome = canned_outcome()
        error = None
        calls = []

        def __call__(self, **kwargs):
            self.calls.append(kwargs)
            if self.error:
                raise self.error
            return self.outcome

    fake = Fake()
    fake.calls = []
    monkeypatch.setattr(runner, "run", fake)
    return fake


# --- reading the card's lines ---------------------------------------------------------


def test_front_fields_are_found_in_read_lines_and_compared():
    front = identity.parse_front(FRONT_LINES)
    assert front == {
        "name": "张伟明",
        "sex": "男",
        "ethnicity": "汉",
        "birth_date": "1990-03-07",
        "address": "北京市朝阳区建国路88号院3号楼2单元101室",
        "id_number": NUMBER,
    }
    results = identity.compare_front(front, typed_name="张伟民", typed_id_number=NUMBER)
    assert results["name"] == {"outcome": "mismatch", "read": "张伟明", "against": "typed"}
    assert results["id_number"]["outcome"] == "match"
    assert results["sex"]["outcome"] == "match"
    assert results["birth_date"]["outcome"] == "match"
    assert results["address"]["outcome"] == "match"
    assert results["ethnicity"] == {"outcome": "read", "read": "汉"}


def test_card_birth_date_and_sex_that_differ_from_the_number_are_mismatches():
    woman_1991 = resident_id(region="440305", birth="19910101", sequence="124")
    results = identity.compare_front(identity.parse_front(FRONT_LINES), typed_name="张伟明", typed_id_number=woman_1991)
    assert results["sex"]["outcome"] == "mismatch"
    assert results["birth_date"]["outcome"] == "mismatch"
    assert results["address"]["outcome"] == "mismatch"  # a Beijing address, a Shenzhen number
    assert results["id_number"]["outcome"] == "mismatch"


def test_nothing_read_is_unreadable_not_a_mismatch():
    results = identity.compare_front(identity.parse_front([]), typed_name="张伟明", typed_id_number=NUMBER)
    assert {result["outcome"] for result in results.values()} == {"unreadable"}


def test_ocr_lookalike_characters_in_the_number_are_read_as_digits():
    assert NUMBER[2:4] == "01"
    spoiled = NUMBER[:2] + "Ol" + NUMBER[4:]
    assert identity.find_id_number(f"公民身份号码 {spoiled}") == NUMBER


def test_back_validity_gives_expired_valid_or_long_term():
    fields, expiry, validity = identity.compare_back(identity.parse_back(BACK_LINES), on_day=datetime.date(2026, 12, 2))
    assert expiry == "expired"
    assert validity == {"valid_from": datetime.date(2016, 3, 7), "valid_until": datetime.date(2026, 3, 7)}
    assert fields["authority"] == {"outcome": "read", "read": "北京市公安局朝阳分局"}
    _, expiry, _ = identity.compare_back(identity.parse_back(BACK_LINES), on_day=datetime.date(2026, 3, 7))
    assert expiry == "valid"  # valid through its last day
    long_term = [*BACK_LINES[:3], "有效期限2016.03.07-长期"]
    _, expiry, validity = identity.compare_back(identity.parse_back(long_term), on_day=datetime.date(2060, 1, 1))
    assert (expiry, validity["valid_until"]) == ("long_term", None)
    _, expiry, _ = identity.compare_back(identity.parse_back(["签发机关"]), on_day=datetime.date(2026, 1, 1))
    assert expiry == "unreadable"


def test_lines_are_grouped_by_height_and_read_left_to_right():
    boxes = [
        TextBox("张伟明", 0.99, left=160, top=92, bottom=128),
        TextBox("民族汉", 0.99, left=260, top=150, bottom=190),
        TextBox("姓名", 0.99, left=60, top=95, bottom=131),  # turned a little: lower than the name
        TextBox("性别男", 0.99, left=60, top=158, bottom=196),
    ]
    assert group_lines(boxes) == ["姓名张伟明", "性别男民族汉"]


def test_a_side_is_read_again_closer_only_when_its_number_or_validity_was_not_read(monkeypatch):
    misread = [line.replace(NUMBER, NUMBER[:-2] + "00") for line in FRONT_LINES]  # a smaller copy's misreading
    reads = []

    def read_lines(image, long_side=ocr.OCR_LONG_SIDE):
        reads.append((image, long_side))
        return pages[long_side]

    monkeypatch.setattr(ocr, "read_lines", read_lines)
    pages = {ocr.OCR_LONG_SIDE: misread, ocr.CLOSER_LONG_SIDE: FRONT_LINES}
    assert runner.read_front("front", typed_id_number=NUMBER) == FRONT_LINES
    assert reads == [("front", ocr.OCR_LONG_SIDE), ("front", ocr.CLOSER_LONG_SIDE)]

    reads.clear()
    pages = {ocr.OCR_LONG_SIDE: FRONT_LINES}
    assert runner.read_front("front", typed_id_number=NUMBER) == FRONT_LINES
    assert reads == [("front", ocr.OCR_LONG_SIDE)]  # read right: no second look

    reads.clear()
    pages = {ocr.OCR_LONG_SIDE: BACK_LINES[:3], ocr.CLOSER_LONG_SIDE: BACK_LINES}
    assert runner.read_back("back") == BACK_LINES
    pages = {ocr.OCR_LONG_SIDE: BACK_LINES}
    assert runner.read_back("back") == BACK_LINES
    assert [size for _image, size in reads] == [ocr.OCR_LONG_SIDE, ocr.CLOSER_LONG_SIDE, ocr.OCR_LONG_SIDE]


# --- the row: created with the submission, age at once ----------------------------------


def test_an_online_submission_gets_a_pending_check_with_its_age(submit):
    submission = submit(id_number=resident_id(birth="19900307"))
    check = MachineCheck.objects.get(submission=submission)
    today = timezone.localdate()
    assert check.status == MachineCheck.Status.PENDING
    assert check.age == today.year - 1990 - ((today.month, today.day) < (3, 7))
    assert check.is_underage is False


def test_an_underage_id_number_is_flagged_for_every_reviewer_at_once(submit, settings, client, reviewer, english):
    # The form refuses under-16s online; the flag follows the same setting wherever the
    # submission came from (here the service directly, with the minimum raised).
    settings.MIN_SELF_REGISTRATION_AGE = 200
    submission = submit(id_number=resident_id(birth="19900307"))
    check = submission.machine_check
    assert check.is_underage is True
    assert selectors.machine_check_suggested_reasons(check) == ["UNDERAGE"]

    client.force_login(reviewer)  # a plain reviewer: the full ID number stays masked
    page = client.get(reverse("reviews:review", args=[submission.pk])).content.decode()
    assert 'data-testid="machine-check-underage"' in page
    assert f'data-testid="machine-check-age">{check.age} ' in page
    assert resident_id(birth="19900307") not in page


def test_a_submission_without_photos_or_at_a_desk_has_no_check(submit):
    assert not MachineCheck.objects.filter(submission=submit(photos=None)).exists()


def test_a_refused_submission_leaves_no_check(submit):
    user = CustomerFactory()
    submit(user=user)
    with pytest.raises(services.ReviewError):
        submit(user=user)
    assert MachineCheck.objects.filter(submission__user=user).count() == 1


# --- a run ---------------------------------------------------------------------------------


def test_a_run_records_its_outcome_masks_the_number_and_is_audited(submit, fake_run):
    submission = submit(full_name="张伟民", id_number=NUMBER)
    other_number = NUMBER[:8] + "85" + NUMBER[10:]
    fake_run.outcome = canned_outcome(
        fields={
            "name": {"outcome": "mismatch", "read": "张伟明", "against": "typed"},
            "id_number": {"outcome": "mismatch", "read": other_number, "against": "typed"},
        }
    )

    check = services.machine_check_run(check_id=submission.machine_check.pk)

    assert check.status == MachineCheck.Status.DONE
    stored = MachineCheck.objects.get(pk=check.pk)
    assert stored.fields["id_number"] == {
        "outcome": "mismatch",
        "read": other_number[:6] + "********" + other_number[-4:],
        "against": "typed",
        "differs_at": [9, 10],
    }
    assert stored.face_band == "same" and stored.document_valid_until == datetime.date(2040, 1, 1)
    assert stored.attempts == 1 and stored.finished_at is not None
    assert fake_run.calls[0]["typed"] == runner.Typed(full_name="张伟民", id_number=NUMBER)
    assert fake_run.calls[0]["front"] is not None and fake_run.calls[0]["handheld"] is not None
    assert selectors.machine_check_suggested_reasons(stored) == ["INFO_MISMATCH"]
    event = AuditEvent.objects.get(verb="submission.machine_checked")
    assert event.data == {"status": "done", "face_band": "same", "document_expiry": "valid", "failure": ""}
    assert submission.status == Submission.Status.PENDING  # evidence only: nothing decided


def test_a_finished_check_is_not_run_again(submit, fake_run):
    check = submit().machine_check
    services.machine_check_run(check_id=check.pk)
    assert services.machine_check_run(check_id=check.pk) is None
    assert len(fake_run.calls) == 1


def test_a_run_whose_lease_is_live_is_not_taken_but_an_expired_one_is(submit, fake_run, settings):
    check = submit().machine_check
    MachineCheck.objects.filter(pk=check.pk).update(started_at=timezone.now(), attempts=1)  # another run works
    assert services.machine_check_run(check_id=check.pk) is None
    assert services.machine_checks_run_pending() == 0

    gone = timezone.now() - timedelta(seconds=settings.MACHINE_CHECK_LEASE_SECONDS + 1)
    MachineCheck.objects.filter(pk=check.pk).update(started_at=gone)  # that process died
    assert services.machine_checks_run_pending() == 1
    check.refresh_from_db()
    assert (check.status, check.attempts) == ("done", 2)


def test_a_run_that_lost_its_lease_writes_nothing(submit, monkeypatch):
    check = submit().machine_check

    def taken_over(**kwargs):
        # While this run works, its lease runs out and another run takes the row.
        MachineCheck.objects.filter(pk=check.pk).update(started_at=timezone.now() + timedelta(seconds=1))
        return canned_outcome(face_band="different")

    monkeypatch.setattr(runner, "run", taken_over)
    assert services.machine_check_run(check_id=check.pk) is None
    check.refresh_from_db()
    assert check.status == "pending" and check.face_band == ""


def test_a_run_that_raises_is_failed_with_the_error_class_only(submit, fake_run, caplog):
    check = submit(full_name="张伟明").machine_check
    fake_run.error = ValueError("张伟明 could not be read")
    with caplog.at_level(logging.ERROR):
        result = services.machine_check_run(check_id=check.pk)
    assert (result.status, result.failure) == ("failed", "ValueError")
    assert selectors.machine_check_suggested_reasons(result) == []


def test_photos_gone_from_storage_fail_the_check_without_touching_the_submission(submit):
    submission = submit()
    for photo in submission.photos.all():
        photo.image.storage.delete(photo.image.name)
    check = services.machine_check_run(check_id=submission.machine_check.pk)
    assert (check.status, check.failure) == ("failed", "FileNotFoundError")
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.PENDING


def test_a_check_run_too_often_gives_up(submit, fake_run, settings):
    check = submit().machine_check
    MachineCheck.objects.filter(pk=check.pk).update(attempts=settings.MACHINE_CHECK_MAX_RUNS)
    result = services.machine_check_run(check_id=check.pk)
    assert (result.status, result.failure) == ("failed", "GaveUpAfterRepeatedRuns")
    assert fake_run.calls == []


def test_the_command_runs_pending_checks_and_refuses_a_bad_limit(submit, fake_run, capsys):
    submit(), submit()
    call_command("run_machine_checks", "--limit", "5")
    assert capsys.readouterr().out.strip() == "checked=2"
    assert set(MachineCheck.objects.values_list("status", flat=True)) == {"done"}
    with pytest.raises(SystemExit):
        call_command("run_machine_checks", "--limit", "0")


# --- after the commit: a thread, or a worker's task --------------------------------------


def test_with_the_thread_runner_the_check_starts_in_the_background_after_commit(
    submit, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.MACHINE_CHECKS_RUNNER = "thread"
    started = []
    monkeypatch.setattr(check_services, "machine_check_run", lambda *, check_id: started.append(check_id))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submission = submit()
    assert started == []  # nothing before the commit
    for callback in callbacks:
        callback()
    check_services.background_executor().submit(lambda: None).result(timeout=10)  # one thread: FIFO
    assert started == [submission.machine_check.pk]


def test_with_celery_the_check_is_a_task_and_a_broker_outage_leaves_it_pending(
    submit, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.MACHINE_CHECKS_RUNNER = "celery"
    sent = []
    monkeypatch.setattr(check_services.current_app, "send_task", lambda name, args: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit()
    assert sent == [("reviews.tasks.run_machine_check", [submission.machine_check.pk])]

    def broker_down(name, args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(check_services.current_app, "send_task", broker_down)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        other = submit()  # the customer's submission stands
    assert other.machine_check.status == "pending"
    assert "run_machine_checks will run it" in caplog.text


def test_the_worker_task_runs_the_check(submit, fake_run):
    check = submit().machine_check
    assert tasks.run_machine_check(check.pk) == "done"
    assert tasks.run_machine_check(check.pk) == "taken"


# --- erasure -------------------------------------------------------------------------------


def test_erasure_deletes_what_the_checks_read(submit, fake_run):
    submission = submit(full_name="张伟明")
    fake_run.outcome = canned_outcome(fields={"name": {"outcome": "match", "read": "张伟明", "against": "typed"}})
    services.machine_check_run(check_id=submission.machine_check.pk)
    pending = submit()  # another customer's, untouched

    report = services.submissions_erase_personal_data(user_id=submission.user_id)

    assert report["machine_checks"] == 1
    assert not MachineCheck.objects.filter(submission=submission).exists()
    assert MachineCheck.objects.filter(submission=pending).exists()
    assert not MachineCheck.objects.filter(fields__icontains="张伟明").exists()


def test_a_run_finishing_after_erasure_writes_nothing(submit, monkeypatch):
    submission = submit()
    check_id = submission.machine_check.pk

    def erased_meanwhile(**kwargs):
        services.submissions_erase_personal_data(user_id=submission.user_id)
        return canned_outcome()

    monkeypatch.setattr(runner, "run", erased_meanwhile)
    assert services.machine_check_run(check_id=check_id) is None
    assert not MachineCheck.objects.filter(pk=check_id).exists()


# --- what the reviewer sees -------------------------------------------------------------


def test_suggested_reasons_follow_what_was_found_not_what_was_unreadable(submit, fake_run):
    check = submit().machine_check
    fake_run.outcome = canned_outcome(
        face_band="different",
        face_distance=0.8,
        document_expiry="expired",
        sides={"front": "ok", "back": "looks_like_other_side"},
        fields={"name": {"outcome": "unreadable"}, "id_number": {"outcome": "unreadable"}},
    )
    services.machine_check_run(check_id=check.pk)
    check.refresh_from_db()
    assert selectors.machine_check_suggested_reasons(check) == ["FACE_MISMATCH", "DOC_EXPIRED", "SIDE_WRONG"]

    no_face = submit().machine_check
    fake_run.outcome = canned_outcome(face_band="not_found", face_distance=None, face_note="no_face_in_handheld")
    services.machine_check_run(check_id=no_face.pk)
    no_face.refresh_from_db()
    assert selectors.machine_check_suggested_reasons(no_face) == ["HANDHELD_BAD"]
    assert selectors.machine_check_suggested_reasons(None) == []


def test_review_page_shows_the_checks_to_a_plain_reviewer_without_an_extra_query(
    client, submit, reviewer, fake_run, english
):
    submission = submit(full_name="张伟民", id_number=NUMBER)
    url = reverse("reviews:review", args=[submission.pk])
    client.force_login(reviewer)
    pending_page = client.get(url).content.decode()
    assert 'data-testid="machine-check-pending"' in pending_page
    assert 'data-testid="machine-check-age"' in pending_page

    fake_run.outcome = canned_outcome(
        fields={
            "name": {"outcome": "mismatch", "read": "张伟明", "against": "typed"},
            "id_number": {"outcome": "match", "read": NUMBER, "against": "typed"},
        },
        document_expiry="expired",
        valid_until=datetime.date(2026, 3, 7),
    )
    services.machine_check_run(check_id=submission.machine_check.pk)
    client.get(url)  # warm: sessions, permissions
    with CaptureQueriesContext(connection) as with_check:
        page = client.get(url).content.decode()
    MachineCheck.objects.filter(submission=submission).delete()
    with CaptureQueriesContext(connection) as without_check:
        client.get(url)
    assert len(with_check) == len(without_check)

    assert 'data-field="name" data-outcome="mismatch"' in page
    assert "张伟明" in page and "Differs" in page and "against what the customer typed" in page
    assert "Expired" in page and "until 2026-03-07" in page
    assert "Same person" in page and "distance 0.31" in page
    assert NUMBER not in page  # a plain reviewer sees the read number masked
    assert "Evidence only" in page


def test_the_partial_says_when_there_is_no_check_or_it_failed(client, submit, reviewer, fake_run, english):
    client.force_login(reviewer)
    no_check = submit(photos=None)
    page = client.get(reverse("reviews:review", args=[no_check.pk])).content.decode()
    assert "No machine checks for this submission" in page

    failed = submit()
    fake_run.error = OSError("storage down")
    services.machine_check_run(check_id=failed.machine_check.pk)
    page = client.get(reverse("reviews:review", args=[failed.pk])).content.decode()
    assert "could not run on these photos" in page


# --- the queue: a column and a filter -----------------------------------------------------

QUEUE_URL = "/staff/reviews/"


def queue_cells(page: str) -> dict[int, str]:
    """Each row's machine-checks cell on the queue page, by submission number."""
    cells = {}
    for row in page.split("<tr ")[1:]:
        number = re.search(r"<td>(\d+)</td>", row)
        cell = re.search(r'<td data-testid="queue-checks"[^>]*>(.*?)</td>', row, re.S)
        if number and cell:
            cells[int(number.group(1))] = " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())
    return cells


def checked(submit, fake_run, **changes) -> Submission:
    """An online submission whose checks ran and found ``changes`` over a clean run."""
    submission = submit()
    fake_run.outcome = canned_outcome(**changes)
    services.machine_check_run(check_id=submission.machine_check.pk)
    return submission


@pytest.fixture
def checked_queue(submit, fake_run, settings):
    """One submission for each thing the queue's column says."""
    rows = {
        "clean": checked(submit, fake_run),
        "differ": checked(
            submit,
            fake_run,
            fields={
                "name": {"outcome": "mismatch", "read": "张伟明", "against": "typed"},
                "sex": {"outcome": "match", "read": "男", "against": "id_number"},
                "address": {"outcome": "mismatch", "read": "上海市浦东新区", "against": "id_number"},
            },
            document_expiry="expired",
        ),
        "other_person": checked(submit, fake_run, face_band="different", face_distance=0.74),
        "no_face_on_card": checked(
            submit, fake_run, face_band="not_found", face_distance=None, face_note="no_face_on_card"
        ),
        "wrong_side": checked(submit, fake_run, sides={"front": "looks_like_other_side", "back": "ok"}),
        "running": submit(),
        "desk": submit(photos=None),
    }
    failed = submit()
    fake_run.error = OSError("storage down")
    services.machine_check_run(check_id=failed.machine_check.pk)
    rows["failed"] = failed
    settings.MIN_SELF_REGISTRATION_AGE = 200  # everyone is under it: the flag is known before any run
    rows["underage"] = submit()
    return rows


def test_the_queue_says_what_each_rows_checks_found_in_words(client, reviewer, checked_queue, english):
    client.force_login(reviewer)
    page = client.get(QUEUE_URL).content.decode()
    cells = queue_cells(page)
    said = {label: cells[submission.pk] for label, submission in checked_queue.items()}
    assert said == {
        "clean": "Same person",
        "differ": "Same person 2 fields differ document expired",
        "other_person": "Different people",
        "no_face_on_card": "No face found",
        "wrong_side": "Same person wrong side",
        "running": "Running",
        "desk": "— not checked",
        "failed": "Could not run",
        "underage": "Running Under the minimum age",
    }
    assert "<th>Machine checks</th>" in page
    problems = {
        label for label, submission in checked_queue.items() if 'data-problem="1"' in row_of(page, submission.pk)
    }
    assert problems == {"differ", "other_person", "wrong_side", "underage"}


def row_of(page: str, number: int) -> str:
    return next(row for row in page.split("<tr ")[1:] if f"<td>{number}</td>" in row)


def test_the_machine_checks_filter_lists_and_counts_what_the_checks_found(client, reviewer, checked_queue, english):
    found = {"differ", "other_person", "wrong_side", "underage"}
    client.force_login(reviewer)
    page = client.get(QUEUE_URL).content.decode()
    assert f'data-testid="count-check_problem">{len(found)}</span>' in page

    filtered = client.get(QUEUE_URL, {"check_problem": "1"}).content.decode()
    listed = set(queue_cells(filtered))
    assert listed == {checked_queue[label].pk for label in found}
    assert 'name="check_problem" value="1" id="f-check-problem" checked' in filtered
    assert f"{len(found)} submissions match." in filtered
    # "Next" and a row's "Open" keep the filter.
    assert '<input type="hidden" name="check_problem" value="1">' in filtered

    # The filter finds what the review screen would preselect a reason for, and any field that differs.
    for label, submission in checked_queue.items():
        check = MachineCheck.objects.filter(submission=submission).first()
        expected = bool(selectors.machine_check_suggested_reasons(check)) or bool(check and check.mismatch_count)
        assert (label in found) == expected, label


def test_the_queue_reads_the_checks_in_the_rows_query(client, submit, fake_run, reviewer):
    for _ in range(3):
        checked(submit, fake_run, face_band="different", face_distance=0.8)
    client.force_login(reviewer)
    client.get(QUEUE_URL)  # warm: sessions, permissions

    def queries(url):
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context)

    small = queries(QUEUE_URL)
    for index in range(12):
        checked(submit, fake_run, document_expiry="expired" if index % 2 else "valid")
    submit()
    submit(photos=None)
    assert queries(QUEUE_URL) == small
    assert queries(f"{QUEUE_URL}?check_problem=1") == small


def test_the_migration_counts_what_differs_in_checks_run_before_it(submit, fake_run):
    differ = checked(
        submit,
        fake_run,
        fields={
            "name": {"outcome": "mismatch", "read": "张伟明", "against": "typed"},
            "id_number": {"outcome": "mismatch", "read": NUMBER, "against": "typed"},
            "sex": {"outcome": "match", "read": "男", "against": "id_number"},
        },
    )
    clean = checked(submit, fake_run)
    MachineCheck.objects.update(mismatch_count=0)  # as the column was added
    migration = importlib.import_module("reviews.migrations.0018_machine_check_mismatch_count")
    migration.count_mismatches(django_apps, schema_editor=None)
    assert MachineCheck.objects.get(submission=differ).mismatch_count == 2
    assert MachineCheck.objects.get(submission=clean).mismatch_count == 0


def test_the_runner_is_a_thread_by_default_and_the_worker_with_a_broker():
    script = "import django; django.setup(); from django.conf import settings; print(settings.MACHINE_CHECKS_RUNNER)"
    found = {}
    for label, extra in (("embedded", {}), ("broker", {"CELERY_BROKER_URL": "redis://queue.internal:6379/1"})):
        env = {key: value for key, value in os.environ.items() if not key.startswith(("REDIS_", "CELERY_", "MACHINE_"))}
        env.update({"DJANGO_SETTINGS_MODULE": "heyon_site.settings.local", **extra})
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=django_settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        found[label] = result.stdout.strip()
    assert found == {"embedded": "thread", "broker": "celery"}
