"""The customer journeys' endpoints, one by one: results, refusals, languages, query counts."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from accounts.models import Line, Notification
from billing import services as billing_services
from billing.models import LineService, Order
from billing.services.errors import ERR_INSUFFICIENT_BALANCE
from customers.models import CancellationRequest, SupportMessage
from reviews.demo import card_image, resident_id
from reviews.models import Submission
from tests.api.conftest import API, AppClient, problem
from tests.billing.conftest import fund, renewal_order, verified_customer
from tests.factories import CustomerFactory, ServicePointFactory, make_line

pytestmark = pytest.mark.django_db


def jpeg(seed: int, name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    card_image(1600, 1200, seed=seed).save(buffer, "JPEG", quality=90)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


class TestProblems:
    def test_domain_refusal_has_a_stable_code_and_a_message_in_the_callers_language(self, app, plans):
        customer, line = verified_customer()
        order = renewal_order(customer, line, plans["basic"])
        app.sign_in_as(customer)
        for language in ("en", "zh-hans"):
            app.language = language
            response = app.post_once(f"{API}orders/{order.number}/pay/", {"method": "wallet"})
            body = problem(response)
            assert response.status_code == 422
            assert body["code"] == "billing.insufficient_balance"
            with translation.override(language):
                assert body["detail"] == str(ERR_INSUFFICIENT_BALANCE)
            assert response["Content-Language"] == language
        assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    def test_chinese_is_the_default(self, app):
        app.language = ""
        response = app.get(f"{API}account/")
        assert response["Content-Language"] == "zh-hans"
        assert problem(response)["detail"] == "身份认证信息未提供。"

    def test_an_unknown_api_path_is_a_problem_not_the_web_page(self, signed_in):
        response = signed_in.get(f"{API}nothing-here/")
        assert response.status_code == 404
        assert problem(response)["code"] == "not_found"

    def test_a_bad_cursor_is_a_problem(self, signed_in):
        response = signed_in.get(f"{API}orders/", {"cursor": "not-a-cursor!"})
        assert response.status_code == 400
        assert problem(response)["code"] == "cursor_invalid"

    def test_every_app_message_constant_has_a_distinct_code(self):
        from api.problems import _message_codes, all_message_codes

        assert len(all_message_codes()) == len(set(_message_codes().values()))
        assert "billing.insufficient_balance" in all_message_codes()
        assert "verification.already_open" in all_message_codes()


class TestAccount:
    def test_summary_shows_lines_allowances_wallet_and_verification(self, app, plans):
        customer, line = verified_customer()
        fund(customer, "25.50")
        app.sign_in_as(customer)
        body = app.get(f"{API}account/").json()
        assert body["verified"] is True
        assert body["wallet_balance"] == "25.50"
        assert body["lines"][0]["id"] == line.pk
        assert body["lines"][0]["status"] == "active"
        assert body["lines"][0]["msisdn"] == line.msisdn.as_e164

    def test_summary_queries_do_not_grow_with_lines(self, app, django_assert_max_num_queries):
        customer = CustomerFactory()
        for _line in range(6):
            make_line(owner=customer)
        app.sign_in_as(customer)
        with django_assert_max_num_queries(9):
            response = app.get(f"{API}account/")
        assert len(response.json()["lines"]) == 6

    def test_add_line_with_a_used_code_is_refused(self, signed_in):
        _line, code = make_line(owner=CustomerFactory())
        response = signed_in.post_once(f"{API}lines/", {"activation_code": code})
        assert response.status_code == 422
        assert problem(response)["code"] == "line.code_used"

    def test_auto_renew_on_and_off(self, app):
        customer, line = verified_customer()
        app.sign_in_as(customer)
        url = f"{API}lines/{line.pk}/auto-renew/"
        response = app.put(url, {"enabled": True, "method": "wallet", "term_months": 3})
        assert response.status_code == 200, response.content
        assert response.json()["auto_renew"] is True
        assert LineService.objects.get(line=line).auto_renew_term_months == 3
        assert app.put(url, {"enabled": False, "method": "wallet", "term_months": 1}).json()["auto_renew"] is False
        bad = app.put(url, {"enabled": True, "method": "cash", "term_months": 1})
        assert bad.status_code == 400
        assert "method" in problem(bad)["errors"]

    def test_notifications_page_by_cursor_and_mark_read(self, app, django_assert_max_num_queries):
        customer = CustomerFactory()
        # Messages are stored by kind and parameters and rendered when read.
        Notification.objects.bulk_create(
            [Notification(user=customer, kind="line.added", params={"number": f"170{n:08d}"}) for n in range(25)]
        )
        app.sign_in_as(customer)
        with django_assert_max_num_queries(4):
            first = app.get(f"{API}notifications/").json()
        second = app.get(f"{API}notifications/", {"cursor": first["next"]}).json()
        assert len(first["results"]) == 20
        assert len(second["results"]) == 5
        assert second["next"] is None
        newest = first["results"][0]
        assert "17000000024" in newest["subject"] and newest["body"]
        assert app.post(f"{API}notifications/read/").status_code == 204
        assert not Notification.objects.filter(user=customer, read_at__isnull=True).exists()

    def test_usage_and_export(self, signed_in):
        assert signed_in.get(f"{API}usage/").status_code == 200
        export = signed_in.get(f"{API}account/export/", HTTP_ACCEPT="application/zip")
        assert export.status_code == 200
        assert export["Content-Type"] == "application/zip"
        assert zipfile.ZipFile(io.BytesIO(export.content)).namelist()


class TestVerification:
    def test_submit_three_photos_then_status_is_pending_and_a_second_submit_is_refused(self, signed_in, customer):
        data = {
            "full_name": "王小明",
            "id_number": resident_id(birth="19880808", sequence="123"),
            "contact_phone": customer.phone.as_e164,
            "id_front": jpeg(1, "front.jpg"),
            "id_back": jpeg(2, "back.jpg"),
            "id_handheld": jpeg(3, "me.jpg"),
        }
        response = signed_in.post_once(f"{API}verification/submissions/", data, format="multipart")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "pending"
        assert sorted(response.json()["photos"]) == ["id_back", "id_front", "id_handheld"]
        status = signed_in.get(f"{API}verification/").json()
        assert status["current"]["id_number_masked"].count("*") == 8
        assert status["can_submit"] is False
        again = signed_in.post_once(
            f"{API}verification/submissions/",
            {**data, "id_front": jpeg(1, "f.jpg"), "id_back": jpeg(2, "b.jpg"), "id_handheld": jpeg(3, "m.jpg")},
            format="multipart",
        )
        assert again.status_code == 422
        assert problem(again)["code"] == "verification.already_open"
        assert Submission.objects.filter(user=customer).count() == 1

    def test_bad_id_number_is_refused_before_any_photo_is_decoded(self, signed_in, customer):
        data = {
            "full_name": "王小明",
            "id_number": "110105199001011231",
            "contact_phone": customer.phone.as_e164,
            "id_front": jpeg(1, "front.jpg"),
            "id_back": jpeg(2, "back.jpg"),
            "id_handheld": jpeg(3, "me.jpg"),
        }
        response = signed_in.post_once(f"{API}verification/submissions/", data, format="multipart")
        assert response.status_code == 400
        assert "id_number" in problem(response)["errors"]
        assert not Submission.objects.exists()

    def test_submissions_are_rate_limited_as_on_the_web(self, signed_in, settings):
        settings.SUBMISSION_RATE_PER_MINUTE = 1
        first = signed_in.post_once(f"{API}verification/submissions/", {"full_name": ""}, format="multipart")
        assert first.status_code == 400
        second = signed_in.post_once(f"{API}verification/submissions/", {"full_name": ""}, format="multipart")
        assert second.status_code == 429
        assert problem(second)["code"] == "rate_limited"

    def test_photo_check_gives_hints_and_refuses_a_non_image(self, signed_in):
        response = signed_in.post(
            f"{API}verification/photo-check/", {"kind": "id_front", "photo": jpeg(4, "f.jpg")}, format="multipart"
        )
        assert response.status_code == 200, response.content
        assert response.json()["ok"] is True
        refused = signed_in.post(
            f"{API}verification/photo-check/",
            {"kind": "id_front", "photo": SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")},
            format="multipart",
        )
        assert refused.status_code == 422
        assert problem(refused)["code"] == "photo.not_an_image"


class TestBilling:
    def test_wallet_pays_a_renewal_and_the_receipt_is_a_pdf(self, app, plans):
        customer, line = verified_customer()
        fund(customer, "30.00")
        app.sign_in_as(customer)
        order = app.post_once(
            f"{API}orders/renewal/", {"line": line.pk, "plan": plans["basic"].pk, "term_months": 1}
        ).json()
        paid = app.post_once(f"{API}orders/{order['number']}/pay/", {"method": "wallet"})
        assert paid.status_code == 200, paid.content
        assert paid.json()["order"]["status"] == "paid"
        pdf = app.get(f"{API}receipts/{paid.json()['order']['receipt_number']}/", HTTP_ACCEPT="application/pdf")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        listed = app.get(f"{API}orders/").json()
        assert [item["number"] for item in listed["results"]] == [order["number"]]

    def test_alipay_answers_with_the_sandbox_cashier(self, app):
        customer = CustomerFactory()
        app.sign_in_as(customer)
        order = app.post_once(f"{API}orders/top-up/", {"amount": "100"}).json()
        paid = app.post_once(f"{API}orders/{order['number']}/pay/", {"method": "alipay"})
        assert paid.status_code == 200
        assert paid.json()["redirect_url"]
        assert paid.json()["order"]["status"] == "open"

    def test_a_declined_card_leaves_the_order_open_with_a_message(self, app):
        app.sign_in_as(CustomerFactory())
        order = app.post_once(f"{API}orders/top-up/", {"amount": "100"}).json()
        card = {"method": "card", "card_number": "4000 0000 0000 0002", "card_expiry": "12/30", "card_cvc": "123"}
        paid = app.post_once(f"{API}orders/{order['number']}/pay/", card)
        assert paid.status_code == 200
        assert paid.json()["error"]
        assert paid.json()["order"]["status"] == "open"

    def test_a_renewal_for_a_line_not_verified_is_refused(self, app, plans):
        customer = CustomerFactory()
        line, _code = make_line(owner=customer)
        app.sign_in_as(customer)
        response = app.post_once(
            f"{API}orders/renewal/", {"line": line.pk, "plan": plans["basic"].pk, "term_months": 1}
        )
        assert response.status_code == 400
        assert "line" in problem(response)["errors"]
        assert not Order.objects.exists()

    def test_quote_and_plans(self, app, plans):
        customer, line = verified_customer()
        app.sign_in_as(customer)
        assert {plan["code"] for plan in app.get(f"{API}plans/").json()} >= {"basic", "standard", "premium"}
        quote = app.get(f"{API}quotes/renewal/", {"line": line.pk, "plan": plans["premium"].pk, "term_months": 12})
        assert quote.json()["amount"] == "1200.00"

    def test_wallet_refund_empties_the_wallet(self, app):
        customer = CustomerFactory()
        fund(customer, "12.00")
        app.sign_in_as(customer)
        response = app.post_once(f"{API}wallet/refund/")
        assert response.json() == {"amount": "12.00"}
        assert app.get(f"{API}account/").json()["wallet_balance"] == "0.00"


class TestCancellationAndSupport:
    def test_blockers_request_then_withdraw(self, app):
        customer, line = verified_customer()
        fund(customer, "5.00")
        app.sign_in_as(customer)
        check = app.get(f"{API}lines/{line.pk}/cancellation/").json()
        assert [blocker["code"] for blocker in check["blockers"]] == ["balance"]
        refused = app.post_once(
            f"{API}cancellations/",
            {"line": line.pk, "full_name": "王芳", "phone": customer.phone.as_e164, "reason": "moving_abroad"},
        )
        assert refused.status_code == 422
        assert problem(refused)["code"] == "cancellation.refused"
        billing_services.wallet_refund_balance(user=customer, actor=customer, reference="T-REFUND-1")
        filed = app.post_once(
            f"{API}cancellations/",
            {
                "line": line.pk,
                "full_name": "王芳",
                "phone": customer.phone.as_e164,
                "reason": "moving_abroad",
                "bindings": [{"name": "微信", "unbound": True}],
            },
        )
        assert filed.status_code == 201, filed.content
        again = app.post_once(
            f"{API}cancellations/",
            {"line": line.pk, "full_name": "王芳", "phone": customer.phone.as_e164, "reason": "moving_abroad"},
        )
        assert again.status_code == 200
        assert again.json()["id"] == filed.json()["id"]
        assert app.get(f"{API}lines/{line.pk}/cancellation/").json()["open_request"]["id"] == filed.json()["id"]
        withdrawn = app.post(f"{API}cancellations/{filed.json()['id']}/withdraw/")
        assert withdrawn.json()["status"] == "withdrawn"
        assert Line.objects.get(pk=line.pk).status == Line.Status.ACTIVE
        assert CancellationRequest.objects.count() == 1

    def test_support_thread_and_reply(self, signed_in, customer):
        thread = signed_in.post_once(f"{API}support/threads/", {"topic": "other", "body": "为什么我的照片被拒？"})
        assert thread.status_code == 201
        reply = signed_in.post_once(f"{API}support/threads/{thread.json()['id']}/messages/", {"body": "补充一句"})
        assert reply.status_code == 201
        detail = signed_in.get(f"{API}support/threads/{thread.json()['id']}/").json()
        assert [message["body"] for message in detail["messages"]] == ["为什么我的照片被拒？", "补充一句"]
        assert SupportMessage.objects.filter(thread__customer=customer).count() == 2
        empty = signed_in.post_once(f"{API}support/threads/", {"topic": "other", "body": "   "})
        assert empty.status_code == 400


class TestPublic:
    def test_service_points_by_city_without_a_token(self, app):
        ServicePointFactory(city="上海")
        ServicePointFactory(city="北京")
        points = app.get(f"{API}service-points/", {"city": "上海"}).json()
        assert [point["city"] for point in points] == ["上海"]

    def test_certificate_check_says_not_genuine_for_a_made_up_number(self, app, settings):
        settings.CERTIFICATE_VERIFY_RATE_PER_MINUTE = 1
        response = app.get(f"{API}certificates/HY-BJ-0001-FAKE/")
        assert response.status_code == 200
        assert response.json()["genuine"] is False
        assert app.get(f"{API}certificates/HY-BJ-0001-FAKE/").status_code == 429


def test_summary_is_cached_and_shows_a_change_at_once(app, django_assert_max_num_queries):
    customer, _line = verified_customer()
    app.sign_in_as(customer)
    assert app.get(f"{API}account/").json()["wallet_balance"] == "0.00"
    with django_assert_max_num_queries(3):  # the customer, the digest; the rest from the cache
        cached = app.get(f"{API}account/")
    assert cached.json()["wallet_balance"] == "0.00"
    fund(customer, "8.00")
    assert app.get(f"{API}account/").json()["wallet_balance"] == "8.00"


class TestRequestLimits:
    """Every request counts: a signed-in one against its account, an anonymous one against its address."""

    def test_a_signed_in_account_past_its_budget_gets_429(self, signed_in, settings):
        settings.API_RATE_PER_TOKEN_PER_MINUTE = 2
        assert [signed_in.get(f"{API}account/").status_code for _ in range(2)] == [200, 200]
        response = signed_in.get(f"{API}account/")
        assert response.status_code == 429
        assert problem(response)["code"] == "rate_limited"
        assert response["Retry-After"] == "60"

    def test_anonymous_requests_from_one_address_past_its_budget_get_429(self, app, settings):
        settings.API_RATE_PER_ADDRESS_PER_MINUTE = 2
        assert [app.get(f"{API}service-points/").status_code for _ in range(2)] == [200, 200]
        assert app.get(f"{API}service-points/").status_code == 429

    def test_signed_in_customers_behind_one_address_do_not_share_a_budget(self, settings):
        # Carrier NAT: many phones, one address. Each account keeps its own budget.
        settings.API_RATE_PER_ADDRESS_PER_MINUTE = 2
        settings.API_RATE_PER_TOKEN_PER_MINUTE = 3
        phones = [AppClient(), AppClient()]
        for phone in phones:
            phone.sign_in_as(CustomerFactory())
        answers = [phone.get(f"{API}account/").status_code for phone in phones for _ in range(3)]
        assert answers == [200] * 6
        assert phones[0].get(f"{API}account/").status_code == 429
