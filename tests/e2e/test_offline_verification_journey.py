import pypdfium2
import pytest
from django.utils import translation

from accounts.models import Line
from reviews.models import Certificate, DraftPhoto, Submission
from reviews.validators import ERR_ID_CHECKSUM
from tests.e2e.conftest import key_screen, serious_violations
from tests.factories import PASSWORD, CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import jpeg_bytes, resident_id
from tests.pdfs import qr_code_text

# serialized_rollback: the data migrations (roles, reason codes) survive the flush between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(page, login, password=PASSWORD):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()


def test_clerk_verifies_in_person_prints_certificate_and_public_page_confirms_it(new_page, live_server):
    point = ServicePointFactory(code="bj-sanlitun", name="三里屯营业厅")
    make_staff("clerk", login="clerk1", service_point=point)
    customer = CustomerFactory()
    line, code = make_line(owner=customer)

    clerk = new_page({"width": 1280, "height": 900})
    sign_in(clerk, "clerk1")
    clerk.goto("/staff/")
    assert clerk.get_by_test_id("nav-review-queue").count() == 0  # a clerk has no review queue
    clerk.get_by_test_id("nav-desk").click()
    clerk.fill("input[name=activation_code]", code.lower())
    clerk.locator("[data-testid=desk-lookup] button[type=submit]").click()
    clerk.wait_for_url("**/staff/desk/lookup/")
    clerk.fill("input[name=full_name]", "李晓华")
    clerk.fill("input[name=id_number]", resident_id(birth="19850214", sequence="357"))
    clerk.check("input[name=card_checked]")
    clerk.get_by_test_id("desk-complete").click()
    clerk.wait_for_url("**/staff/desk/certificates/*/")
    number = clerk.get_by_test_id("certificate-number").inner_text().strip()
    assert number.startswith("BJ-SANLITUN-000001-")

    # The printable PDF opens and shows the number; its QR code leads to the public check.
    response = clerk.request.get(clerk.get_by_test_id("certificate-pdf").get_attribute("href"))
    assert response.headers["content-type"] == "application/pdf"
    page = pypdfium2.PdfDocument(response.body())[0]
    assert number in page.get_textpage().get_text_range()
    decoded = qr_code_text(page)
    assert decoded == f"{live_server.url}/certificates/verify/?number={number}"

    public = new_page({"width": 390, "height": 844})
    public.goto(decoded)
    result = public.get_by_test_id("certificate-result")
    assert result.get_attribute("data-genuine") == "yes"
    assert "李*" in result.inner_text() and "晓华" not in result.inner_text()

    customer_page = new_page({"width": 390, "height": 844})
    sign_in(customer_page, customer.phone.as_national)
    customer_page.wait_for_url("**/account/")
    assert customer_page.get_by_test_id("line-status").get_attribute("data-status") == "active"
    assert customer_page.get_by_test_id("verified-channel").get_attribute("data-channel") == "offline"

    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    submission = Submission.objects.get(user=customer)
    assert submission.channel == "offline" and submission.service_point == point
    assert Certificate.objects.get().issued_by.username == "clerk1"


def test_clerk_fixes_a_wrong_check_digit_and_completes_with_the_photos_kept(new_page, tmp_path):
    point = ServicePointFactory(code="bj-chaoyangmen", name="朝阳门营业厅")
    make_staff("clerk", login="clerk1", service_point=point)
    customer = CustomerFactory()
    line, code = make_line(owner=customer)
    good = resident_id(birth="19850214", sequence="357")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with translation.override("zh-hans"):  # the desk reads the default language
        checksum_error = str(ERR_ID_CHECKSUM)

    clerk = new_page({"width": 1280, "height": 900})
    sign_in(clerk, "clerk1")
    clerk.goto("/staff/")
    clerk.get_by_test_id("nav-desk").click()
    clerk.fill("input[name=activation_code]", code)
    clerk.locator("[data-testid=desk-lookup] button[type=submit]").click()
    clerk.wait_for_url("**/staff/desk/lookup/")
    assert not serious_violations(clerk)
    clerk.fill("input[name=full_name]", "李晓华")
    clerk.fill("input[name=id_number]", wrong)
    for offset, kind in enumerate(("id_front", "id_back", "id_handheld")):
        path = tmp_path / f"{kind}.jpg"
        path.write_bytes(jpeg_bytes(seed=80 + offset))
        clerk.set_input_files(f"input[name={kind}]", str(path))
    clerk.check("input[name=card_checked]")
    clerk.get_by_test_id("desk-complete").click()
    clerk.wait_for_url("**/staff/desk/verify/")

    # The error is beside the ID number; the typing and the three photos are kept.
    assert clerk.locator("#id_id_number_error").inner_text().strip() == checksum_error
    assert clerk.get_by_test_id("photos-kept-note").is_visible()
    assert clerk.locator("input[name=full_name]").input_value() == "李晓华"
    assert clerk.locator("input[name=card_checked]").is_checked()
    for kind in ("id_front", "id_back", "id_handheld"):
        kept = clerk.get_by_test_id(f"kept-{kind}")
        assert kept.is_visible()
        assert kept.locator("img").evaluate("img => img.complete && img.naturalWidth") > 0
        assert clerk.locator(f"input[name={kind}]").evaluate("input => input.files.length") == 0
    key_screen(clerk, "desk-photos-kept")
    assert not Submission.objects.exists()
    kept_files = {draft.kind: draft.image.name for draft in DraftPhoto.objects.filter(line=line)}
    assert len(kept_files) == 3

    # Fixed, and completed without choosing the photos again.
    clerk.fill("input[name=id_number]", good)
    clerk.get_by_test_id("desk-complete").click()
    clerk.wait_for_url("**/staff/desk/certificates/*/")
    assert clerk.get_by_test_id("certificate-number").inner_text().strip().startswith("BJ-CHAOYANGMEN-000001-")
    assert not serious_violations(clerk)

    customer.refresh_from_db()
    assert customer.is_real_name_verified
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    submission = Submission.objects.get(user=customer)
    assert submission.status == Submission.Status.APPROVED and submission.channel == "offline"
    assert {photo.kind: photo.image.name for photo in submission.photos.all()} == kept_files
    assert not DraftPhoto.objects.exists()
