"""drf-spectacular: every operation documents its problem responses, and the idempotent ones their header.

The responses that start a customer journey carry OpenAPI links to its next steps
(``JOURNEY_LINKS``, added by the ``add_journey_links`` postprocessing hook).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.idempotency import IDEMPOTENCY_KEY_PATTERN
from api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_STATUSES = (400, 401, 403, 404, 405, 406, 409, 415, 422, 429, 503)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; ``code`` is stable, ``detail`` is in the caller's language."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Field errors: field name → messages."
    )


class TermMonthsFieldExtension(OpenApiSerializerFieldExtension):
    """The terms on sale, read when the schema is made (not at import)."""

    target_class = "api.serializers.TermMonthsField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "integer", "enum": list(settings.RENEWAL_TERMS_MONTHS)}


class ProblemAwareAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    OpenApiParameter.HEADER,
                    required=True,
                    description="A new random value per action (a UUID); a retry sends the same value.",
                )
            )
        parameters.append(
            OpenApiParameter(
                "Accept-Language",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The language of messages: `zh-hans` (the default) or `en`.",
            )
        )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code in PROBLEM_STATUSES:
            if str(status_code) in responses:
                continue
            responses[str(status_code)] = self._get_response_for_code(
                ProblemSerializer, str(status_code), [PROBLEM_CONTENT_TYPE], direction
            )
        return responses


# --- links: the customer journeys --------------------------------------------------------


@dataclass(frozen=True)
class JourneyLink:
    """One step of a customer journey: a response of ``source`` names what to call next.

    ``parameters`` and ``body`` map the target's parameter (and request body field) names to
    OpenAPI runtime expressions (``$response.body#/id``) read from the source's response;
    ``doc`` is the link's description.
    """

    source: str
    status: int
    name: str
    target: str
    parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)
    doc: str = ""


# The journeys' steps, one row each: source operationId and status → link name → target
# operationId, with the target's parameters (and body fields) as runtime expressions. The
# hook refuses a row whose operations or parameters the API does not have, and
# tests/api/test_schema_links.py checks the committed schema the same way.
BODY_ID = "$response.body#/id"
FIRST_LINE = "$response.body#/lines/0/id"
FIRST_LINE_PLAN = "$response.body#/lines/0/service/plan/id"

JOURNEY_LINKS: list[JourneyLink] = [
    # A line added by its activation code: its auto-renew, its cancellation check, renewing it.
    JourneyLink("line_add", 201, "AutoRenew", "line_auto_renew", {"line_id": BODY_ID}, doc="Its auto-renew."),
    JourneyLink("line_add", 201, "CancellationCheck", "cancellation_check", {"line_id": BODY_ID}, doc="Cancelling it."),
    JourneyLink("line_add", 201, "RenewalQuote", "renewal_quote", {"line": BODY_ID}, doc="Price renewing it."),
    JourneyLink("line_add", 201, "RenewalOrder", "renewal_order_create", body={"line": BODY_ID}, doc="Renew it."),
    JourneyLink("line_add", 201, "Account", "account_summary", doc="The account's lines, the new one among them."),
    JourneyLink("line_add", 201, "Usage", "usage_by_month", doc="The account's usage by month, the new line's too."),
    # The same journeys from the account's first line (a signed-in customer's usual start).
    JourneyLink("account_summary", 200, "AutoRenew", "line_auto_renew", {"line_id": FIRST_LINE}),
    JourneyLink("account_summary", 200, "CancellationCheck", "cancellation_check", {"line_id": FIRST_LINE}),
    JourneyLink("account_summary", 200, "RenewalQuote", "renewal_quote", {"line": FIRST_LINE, "plan": FIRST_LINE_PLAN}),
    JourneyLink(
        "account_summary",
        200,
        "RenewalOrder",
        "renewal_order_create",
        body={"line": FIRST_LINE, "plan": FIRST_LINE_PLAN},
    ),
    # An order (renewal or top-up): read it, pay it, its receipt once paid.
    JourneyLink("renewal_order_create", 201, "Order", "order", {"number": "$response.body#/number"}),
    JourneyLink("renewal_order_create", 201, "Pay", "order_pay", {"number": "$response.body#/number"}),
    JourneyLink("top_up_order_create", 201, "Order", "order", {"number": "$response.body#/number"}),
    JourneyLink("top_up_order_create", 201, "Pay", "order_pay", {"number": "$response.body#/number"}),
    JourneyLink("orders", 200, "Order", "order", {"number": "$response.body#/results/0/number"}, doc="The newest."),
    JourneyLink("order", 200, "Pay", "order_pay", {"number": "$response.body#/number"}, doc="While it is open."),
    JourneyLink("order", 200, "Receipt", "receipt_pdf", {"number": "$response.body#/receipt_number"}, doc="Once paid."),
    JourneyLink("order_pay", 200, "Order", "order", {"number": "$response.body#/order/number"}),
    JourneyLink("order_pay", 200, "Receipt", "receipt_pdf", {"number": "$response.body#/order/receipt_number"}),
    # Real-name verification: a submission, then its status.
    JourneyLink("verification_submit", 201, "Status", "verification", doc="Its status, expected dates, history."),
    # Support: open a conversation, read it, reply in it.
    JourneyLink("support_thread_open", 201, "Thread", "support_thread", {"thread_id": BODY_ID}),
    JourneyLink("support_thread_open", 201, "Reply", "support_reply", {"thread_id": BODY_ID}),
    JourneyLink("support_threads", 200, "Thread", "support_thread", {"thread_id": "$response.body#/results/0/id"}),
    JourneyLink("support_thread", 200, "Reply", "support_reply", {"thread_id": BODY_ID}),
    # Cancellation: what blocks it, the request (201 new, 200 the open one), withdrawing it.
    JourneyLink("cancellation_check", 200, "Request", "cancellation_request", body={"line": "$response.body#/line"}),
    JourneyLink(
        "cancellation_check",
        200,
        "Withdraw",
        "cancellation_withdraw",
        {"request_id": "$response.body#/open_request/id"},
    ),
    JourneyLink("cancellation_request", 201, "Withdraw", "cancellation_withdraw", {"request_id": BODY_ID}),
    JourneyLink("cancellation_request", 201, "Check", "cancellation_check", {"line_id": "$response.body#/line"}),
    JourneyLink("cancellation_request", 200, "Withdraw", "cancellation_withdraw", {"request_id": BODY_ID}),
    JourneyLink("cancellation_request", 200, "Check", "cancellation_check", {"line_id": "$response.body#/line"}),
    JourneyLink(
        "cancellations", 200, "Withdraw", "cancellation_withdraw", {"request_id": "$response.body#/results/0/id"}
    ),
    # Notifications: the inbox, then marking it read (the API marks every message; none has its own).
    JourneyLink("notifications", 200, "MarkRead", "notifications_mark_read"),
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(result: dict) -> dict[str, dict]:
    return {
        operation["operationId"]: operation
        for item in result["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _body_fields(result: dict, operation: dict) -> set[str]:
    fields = set()
    for media in operation.get("requestBody", {}).get("content", {}).values():
        reference = media["schema"].get("$ref", "")
        schema = result["components"]["schemas"].get(reference.rpartition("/")[2], media["schema"])
        fields |= set(schema.get("properties", {}))
    return fields


def journey_link_errors(result: dict, links: list[JourneyLink]) -> list[str]:
    """Say what is wrong with each link that does not fit the operations of ``result``."""
    operations = _operations(result)
    errors = []
    for link in links:
        label = f"{link.source} {link.status} {link.name} → {link.target}"
        source, target = operations.get(link.source), operations.get(link.target)
        if source is None or target is None:
            errors.append(f"{label}: no operation {link.source if source is None else link.target}")
            continue
        if str(link.status) not in source["responses"]:
            errors.append(f"{label}: {link.source} has no {link.status} response")
        declared = {p["name"]: p["in"] for p in target.get("parameters", []) if p["in"] in ("path", "query")}
        path = {name for name, where in declared.items() if where == "path"}
        if unknown := set(link.parameters) - set(declared):
            errors.append(f"{label}: {link.target} has no parameter {', '.join(sorted(unknown))}")
        if missing := path - set(link.parameters):
            errors.append(f"{label}: path parameter {', '.join(sorted(missing))} not given")
        if unknown := set(link.body) - _body_fields(result, target):
            errors.append(f"{label}: {link.target}'s body has no field {', '.join(sorted(unknown))}")
    return errors


def add_journey_links(result, generator, request, public, **kwargs):
    """drf-spectacular postprocessing hook: add ``JOURNEY_LINKS`` to the responses they start from."""
    if errors := journey_link_errors(result, JOURNEY_LINKS):
        raise ImproperlyConfigured("Journey links do not fit the API:\n" + "\n".join(errors))
    operations = _operations(result)
    for link in JOURNEY_LINKS:
        responses = operations[link.source]["responses"]
        definition = {"operationId": link.target}
        if link.parameters:
            definition["parameters"] = dict(link.parameters)
        if link.body:
            definition["requestBody"] = dict(link.body)
        if link.doc:
            definition["description"] = link.doc
        response = responses[str(link.status)]
        # A copy: drf-spectacular may share one response object between operations.
        responses[str(link.status)] = {**response, "links": {**response.get("links", {}), link.name: definition}}
    return result
