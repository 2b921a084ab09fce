"""The OpenAPI document at /api/openapi.json stays true: it lists exactly the routes under /api
and /open311, and schemathesis calls every operation in-process with generated data (valid
and invalid) and checks each answer - never a 5xx, a documented status, the documented body."""
from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import BaseSchema, Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from engine import Gridflow

from .conftest import Api

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# Who calls what: an administrator where only he may, the supervision centre elsewhere.
ADMIN_ONLY = {
    ("POST", "/api/definitions"),
    ("POST", "/api/definitions/{process_id}/migrations"),
    ("PUT", "/api/calendar/days/{day}"),
    ("DELETE", "/api/calendar/days/{day}"),
}


def openapi_path(rule: str) -> str:
    """Flask's /api/cases/<int:case_id> is OpenAPI's /api/cases/{case_id}."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_is_in_the_document_and_every_operation_is_a_route(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    routes = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/", "/open311/"))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    assert sorted(routes - documented) == [], "routes missing from the document (web/api)"
    assert sorted(documented - routes) == [], "operations in the document (web/api) that no route serves"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), (method, path)


@pytest.fixture
def tokens(api: Api) -> dict[str, str]:
    return {"operator": api.token("operator"), "admin": api.token("admin")}


@pytest.fixture
def open311_key(gridflow: Gridflow) -> str:
    return gridflow.open311.clients.issue_key("schemathesis", "open311")


def _document(app: Flask, api: Api) -> BaseSchema:
    """The app's own document, with a case waiting for the operator's register task and one
    still at verify, so that case and task numbers the generator picks sometimes exist."""
    waiting = api.report("operator", channel="hotline")["id"]
    api.complete("collector03", waiting, "verify", found=True, note="属实")
    api.report("operator", channel="hotline", grid="05-01")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # Schemathesis also feeds literals from our own source to its generator: the strings below
    # already hold every odd character the door's own pattern names.
    schema.config.analysis.constants.enabled = False
    return schema


FORM_POST = {"path_regex": "^/open311/v2/requests", "method": "POST"}  # form-encoded, not JSON


@pytest.fixture
def web_schema(app: Flask, api: Api) -> BaseSchema:
    schema = _document(app, api).exclude(**FORM_POST)
    # Strings of every code point, lone surrogates ("\ud800", which JSON may carry as an escape)
    # and U+0000 among them: neither database stores them, and the door must say so, not a 500.
    # The default codec, utf-8, leaves surrogates out; unicode_escape encodes every code point.
    schema.config.generation.update(codec="unicode_escape", allow_x00=True)
    return schema


@pytest.fixture
def form_schema(app: Flask, api: Api) -> BaseSchema:
    """The form-encoded report: a form travels as UTF-8 bytes, in which no client can send a lone
    surrogate, so its strings are UTF-8's (U+0000 among them)."""
    schema = _document(app, api).include(**FORM_POST)
    schema.config.generation.update(allow_x00=True)
    return schema


schema = schemathesis.pytest.from_fixture("web_schema")
forms = schemathesis.pytest.from_fixture("form_schema")


def a_405_names_what_is_allowed(ctx: Any, response: schemathesis.Response, case: Case) -> None:
    """RFC 9110: a 405 carries Allow, the methods the path does take; under /api as on pages."""
    if response.status_code == 405:
        assert response.headers.get("allow"), f"{case.method} {case.formatted_path}: 405 without Allow"


SETTINGS = settings(
    max_examples=15, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@forms.parametrize()
@SETTINGS
def test_the_form_encoded_report_answers_as_documented(case: Case, tokens: dict[str, str], open311_key: str) -> None:
    answers_as_documented(case, tokens, open311_key)


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_as_documented(case: Case, tokens: dict[str, str], open311_key: str) -> None:
    answers_as_documented(case, tokens, open311_key)


def answers_as_documented(case: Case, tokens: dict[str, str], open311_key: str) -> None:
    user = "admin" if (case.method.upper(), case.path) in ADMIN_ONLY else "operator"
    if case.path.startswith("/open311/v2/requests") and case.method.upper() == "POST" and isinstance(case.body, dict):
        case.body["api_key"] = open311_key  # else every report stops at the key
    headers: dict[str, Any] = {"Authorization": f"Bearer {tokens[user]}"}
    case.call_and_validate(
        headers=headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            unsupported_method,  # the coverage phase's undocumented methods: 405 with Allow
            a_405_names_what_is_allowed,
        ],
    )
