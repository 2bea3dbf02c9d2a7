import cv2
import numpy as np
import pypdfium2
import pytest

from accounts.models import Line
from reviews.models import Certificate, Submission
from tests.factories import PASSWORD, CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.images import resident_id

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
    picture = np.asarray(page.render(scale=3).to_pil().convert("RGB"))
    decoded, _points, _raw = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
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
