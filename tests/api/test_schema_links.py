"""The committed schema's OpenAPI links: the main journeys are there, and every link fits the API.

A renamed view, operation, path parameter or response field breaks these tests, not only
Schemathesis's stateful phase (which would quietly stop following the link).
"""

from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from api import schema as api_schema

SCHEMA = Path(__file__).resolve().parents[2] / "api" / "schema" / "openapi.yaml"

# (source operationId, status, link name) → target operationId: the steps the issue asks for.
MAIN_JOURNEYS = {
    # add a line → its auto-renew, its cancellation check, its usage
    ("line_add", "201", "AutoRenew"): "line_auto_renew",
    ("line_add", "201", "CancellationCheck"): "cancellation_check",
    ("line_add", "201", "Usage"): "usage_by_month",
    ("account_summary", "200", "AutoRenew"): "line_auto_renew",
    # create an order → read it → pay it → its receipt (renewal and top-up)
    ("renewal_order_create", "201", "Order"): "order",
    ("renewal_order_create", "201", "Pay"): "order_pay",
    ("top_up_order_create", "201", "Order"): "order",
    ("top_up_order_create", "201", "Pay"): "order_pay",
    ("order", "200", "Pay"): "order_pay",
    ("order", "200", "Receipt"): "receipt_pdf",
    ("order_pay", "200", "Receipt"): "receipt_pdf",
    # submit verification → its status
    ("verification_submit", "201", "Status"): "verification",
    # support: open a thread → read it → reply
    ("support_thread_open", "201", "Thread"): "support_thread",
    ("support_thread_open", "201", "Reply"): "support_reply",
    ("support_thread", "200", "Reply"): "support_reply",
    # cancellation: request → read it back (the line's check shows the open request) / withdraw
    ("cancellation_request", "201", "Withdraw"): "cancellation_withdraw",
    ("cancellation_request", "201", "Check"): "cancellation_check",
    ("cancellation_check", "200", "Withdraw"): "cancellation_withdraw",
    # notifications → mark read
    ("notifications", "200", "MarkRead"): "notifications_mark_read",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def operations(schema: dict) -> dict[str, dict]:
    return {
        operation["operationId"]: operation
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in api_schema.HTTP_METHODS
    }


def links(schema: dict):
    """Yield (source operationId, status, link name, link) for every link in the schema."""
    for operation_id, operation in operations(schema).items():
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                yield operation_id, status, name, link


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rpartition("/")[2]]
    return node


def pointer_exists(schema: dict, node: dict, parts: list[str]) -> bool:
    """Whether a JSON pointer into a response can point at something its schema describes."""
    node = resolve(schema, node)
    branches = [*node.get("allOf", []), *node.get("oneOf", []), *node.get("anyOf", [])]
    if branches:
        return any(pointer_exists(schema, branch, parts) for branch in branches)
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head.isdigit():
        return "items" in node and pointer_exists(schema, node["items"], rest)
    return head in node.get("properties", {}) and pointer_exists(schema, node["properties"][head], rest)


def test_main_journeys_carry_their_links(schema):
    found = {(source, status, name): link["operationId"] for source, status, name, link in links(schema)}
    missing = {step: target for step, target in MAIN_JOURNEYS.items() if found.get(step) != target}
    assert not missing, f"Links missing from the committed schema: {missing}"


def test_every_link_names_an_operation_and_exactly_its_path_parameters(schema):
    by_id = operations(schema)
    problems = []
    for source, status, name, link in links(schema):
        label = f"{source} {status} {name}"
        target = by_id.get(link["operationId"])
        if target is None:
            problems.append(f"{label}: no operation {link['operationId']}")
            continue
        declared = {p["name"]: p["in"] for p in target.get("parameters", []) if p["in"] in ("path", "query")}
        given = set(link.get("parameters", {}))
        path = {name for name, where in declared.items() if where == "path"}
        if not path <= given or not given <= set(declared):
            problems.append(f"{label}: gives {sorted(given)}, {link['operationId']} takes path {sorted(path)}")
        body = resolve(
            schema, target.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        if not set(link.get("requestBody", {})) <= set(body.get("properties", {})):
            problems.append(f"{label}: body fields {sorted(link['requestBody'])} not in {link['operationId']}")
    assert not problems, "\n".join(problems)


def test_every_link_reads_a_field_its_source_response_has(schema):
    by_id = operations(schema)
    problems = []
    for source, status, name, link in links(schema):
        response_schema = by_id[source]["responses"][status]["content"]["application/json"]["schema"]
        for expression in [*link.get("parameters", {}).values(), *link.get("requestBody", {}).values()]:
            prefix, _, pointer = expression.partition("#/")
            if prefix != "$response.body" or not pointer_exists(schema, response_schema, pointer.split("/")):
                problems.append(f"{source} {status} {name}: {expression}")
    assert not problems, "Expressions that read nothing the response has:\n" + "\n".join(problems)


def test_a_link_to_a_renamed_operation_or_parameter_stops_the_schema(schema, monkeypatch):
    renamed = [
        api_schema.JourneyLink("order", 200, "Receipt", "receipt", {"number": "$response.body#/receipt_number"}),
        api_schema.JourneyLink("order", 200, "Pay", "order_pay", {"order": "$response.body#/number"}),
        api_schema.JourneyLink(
            "line_add", 201, "Order", "renewal_order_create", body={"line_id": "$response.body#/id"}
        ),
    ]
    errors = api_schema.journey_link_errors(schema, renamed)
    assert errors == [
        "order 200 Receipt → receipt: no operation receipt",
        "order 200 Pay → order_pay: order_pay has no parameter order",
        "order 200 Pay → order_pay: path parameter number not given",
        "line_add 201 Order → renewal_order_create: renewal_order_create's body has no field line_id",
    ]
    monkeypatch.setattr(api_schema, "JOURNEY_LINKS", renamed)
    with pytest.raises(ImproperlyConfigured, match="no operation receipt"):
        api_schema.add_journey_links(result=schema, generator=None, request=None, public=False)
