"""Issue 13, what a request may say: an error echoes what it was sent only as escaped text (a
page in chromium runs no script), text no database stores (U+0000, a lone surrogate) and JSON
nested past any form are refused at the door naming the field, never a 500, and an export's
cell never becomes a spreadsheet formula."""
from __future__ import annotations

import csv
import io
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Browser, Dialog

from engine import Gridflow
from web.assessment import inert_cell

from .browser import Office
from .conftest import Api, csrf, logged_in, reported, user_id

SVG_NAME = "<svg onload=alert(document.domain)>"
IMG_ID = "<img src=x onerror=alert(1)>"
EVIL_NAME = '=HYPERLINK("http://evil.example","x")'


def dialogs_of(page: Any) -> list[str]:
    opened: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


# --- finding 1: a refused field's name echoed as HTML -----------------------------------------------

def test_a_refused_field_named_like_a_tag_runs_no_script_on_any_page(browser: Browser, server: str) -> None:
    page = browser.new_context(locale="zh-CN").new_page()
    opened = dialogs_of(page)
    for path in ("/login", "/", "/cases/1", "/admin/", "/no-such-page"):
        answer = page.goto(f"{server}{path}?%3Csvg%20onload%3Dalert(document.domain)%3E=%00")
        assert answer is not None and answer.status == 400, path
        html = answer.text()
        assert "&lt;svg onload=alert(document.domain)&gt;" in html and "<svg" not in html, path
        assert 'id="bad-request"' in html and "请求有误" in html, path  # the site's page, Chinese first
        assert page.locator("#refused-field code").text_content() == SVG_NAME
        assert page.locator("svg").count() == 0
    assert opened == []
    page.context.close()


def test_the_error_pages_way_back_works_under_the_content_security_policy(browser: Browser, server: str) -> None:
    """返回上一页 is a script file's click handler, not a javascript: link the policy would block."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{server}/login")
    page.goto(f"{server}/login?x=%00")
    page.click("#go-back")
    page.wait_for_url(f"{server}/login")
    assert page.locator("input[name=username]").count() == 1
    # Went back (a form there keeps what was typed) rather than opening the page anew: the history
    # holds the blank first page and the two visits, and no third visit.
    assert page.evaluate("history.length") == 3
    page.context.close()


def test_a_refused_field_outside_any_route_answers_in_the_areas_own_format(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/login?%3Csvg%20onload%3Dalert(document.domain)%3E=%00")
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    text = answer.get_data(as_text=True)
    assert "<code>&lt;svg onload=alert(document.domain)&gt;</code>: must not contain the character U+0000" in text
    # Raised by the door (a before_request hook) where no route, so no blueprint, answers.
    answer = client.get("/api/nowhere?%3Csvg%3E=%00")
    assert answer.status_code == 422 and answer.mimetype == "application/json"
    assert answer.get_json() == {"error": "must not contain the character U+0000", "field": "<svg>"}
    answer = client.get("/open311/v2/nowhere.json?%3Csvg%3E=%00")
    assert answer.status_code == 400 and answer.mimetype == "application/json"
    assert answer.get_json() == [{"code": 400, "description": "<svg>: must not contain the character U+0000"}]
    # A view argument is a field too.
    answer = client.get("/admin/processes/a%00b/migrate")
    assert answer.status_code == 400
    assert "<code>process_id</code>: must not contain the character U+0000" in answer.get_data(as_text=True)


# --- finding 2: the administrator's migrate page echoing the process id -------------------------------

def test_the_migrate_page_shows_an_unknown_process_id_as_text(office: Office) -> None:
    page = office.person("admin")
    opened = dialogs_of(page)
    answer = page.goto(f"{office.base}/admin/processes/{IMG_ID}/migrate")
    assert answer is not None and answer.status == 400
    html = answer.text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert page.locator("#refused-field code").text_content() == "process_id"
    assert IMG_ID in (page.locator("#refused-field").text_content() or "")
    assert page.locator("img").count() == 0
    assert opened == []


# --- finding 8: lone surrogates, U+0000 and deep nesting in JSON ------------------------------------

def post_raw(api: Api, path: str, user: str | None, body: str, method: str = "POST") -> Any:
    """A body written by hand, so that it may hold JSON escapes Python's encoder never writes."""
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = f"Bearer {api.token(user)}"
    return api.client.open(path, method=method, data=body.encode(), headers=headers)


CASE_BODY = (
    '{"category": "SJ0502", "grid": "03-02", "address": "人民路 18 号", "urgency": "normal", "channel": "hotline"'
)


def test_a_lone_surrogate_anywhere_in_json_is_refused_naming_the_field(api: Api, gridflow: Gridflow) -> None:
    before = api.get("/api/cases", "operator")["total"]
    answer = post_raw(api, "/api/cases", "operator", CASE_BODY + ', "description": "占道\\ud800"}')
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not contain the character U+D800", "field": "description"}
    # A field name is text too, and is named with its surrogate written out: it has no UTF-8 form.
    answer = post_raw(api, "/api/cases", "operator", CASE_BODY + ', "description": "占道", "\\udfff": 1}')
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not contain the character U+DFFF", "field": "\\udfff"}
    # Nested in a list of objects, the field named is the top-level one.
    answer = post_raw(api, "/api/cases", "operator", CASE_BODY + ', "description": [{"x": ["\\ud800"]}]}')
    assert answer.status_code == 422 and answer.get_json()["field"] == "description"
    assert api.get("/api/cases", "operator")["total"] == before

    answer = post_raw(api, "/api/login", None, '{"username": "\\ud800", "password": "demo"}')
    assert answer.status_code == 422 and answer.get_json()["field"] == "username"

    case_id = reported(gridflow, (("operator", "register", {"decision": "register"}),
                                  ("dispatcher", "dispatch", {"department": "JD03"})))
    task_id = api.task("jd03", case_id, "handle")["id"]
    answer = post_raw(api, f"/api/tasks/{task_id}/complete", "jd03", '{"action": "done", "result": "已清理\\udc80"}')
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not contain the character U+DC80", "field": "result"}
    assert api.has_task("jd03", case_id, "handle")

    days = api.get("/api/calendar/days", "operator")
    answer = post_raw(api, "/api/calendar/days/2027-02-14", "admin", '{"kind": "working", "note": "\\ud800"}', "PUT")
    assert answer.status_code == 422 and answer.get_json()["field"] == "note"
    note_with_nul = '{"kind": "working", "note": "调休\\u0000"}'
    answer = post_raw(api, "/api/calendar/days/2027-02-14", "admin", note_with_nul, "PUT")
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not contain the character U+0000", "field": "note"}
    assert api.get("/api/calendar/days", "operator") == days


def test_json_nested_past_any_form_is_refused_not_a_500(api: Api) -> None:
    before = api.get("/api/cases", "operator")["total"]
    deep = "[" * 900 + "]" * 900
    answer = post_raw(api, "/api/cases", "operator", deep)
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not nest more than 32 levels deep", "field": "body"}
    answer = post_raw(api, "/api/cases", "operator", CASE_BODY + f', "description": {deep}}}')
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not nest more than 32 levels deep", "field": "description"}
    # Deeper than Python's JSON parser recurses, or broken: a body that cannot be read is a 400.
    answer = post_raw(api, "/api/cases", "operator", "[" * 100_000 + "]" * 100_000)
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"
    answer = post_raw(api, "/api/calendar/days/2027-02-14", "admin", '{"kind": "working", "note": "x"', "PUT")
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"
    # Thirty-two levels are fine.
    shallow = "[" * 31 + '"占道"' + "]" * 31
    answer = post_raw(api, "/api/cases", "operator", CASE_BODY + f', "description": {shallow}}}')
    assert answer.status_code == 422 and answer.get_json()["field"] == "description"
    assert "nest" not in answer.get_json()["error"]  # refused by the engine as no text, not by the door
    assert api.get("/api/cases", "operator")["total"] == before


def test_a_page_form_or_file_name_with_a_nul_gets_the_400_page(app: Flask, api: Api) -> None:
    admin = logged_in(app, "admin")
    token = csrf(admin.get("/admin/processes/case_lifecycle/migrate").get_data(as_text=True))
    answer = admin.post("/admin/processes/case_lifecycle/migrate", data={"csrf_token": token, "case_ids": "1\x00"})
    assert answer.status_code == 400
    assert "<code>case_ids</code>: must not contain the character U+0000" in answer.get_data(as_text=True)
    upload = {"file": (io.BytesIO(b"<definitions/>"), "evil\x00.bpmn")}
    answer = api.client.post("/api/definitions", data=upload, content_type="multipart/form-data",
                             headers={"Authorization": f"Bearer {api.token('admin')}"})
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "must not contain the character U+0000", "field": "file"}


# --- finding 14: /api answers in JSON, and a 405 says what is allowed ---------------------------------

def test_the_api_answers_json_for_unknown_paths_and_names_allowed_methods(api: Api) -> None:
    for path in ("/api", "/api/", "/api/nowhere", "/api/cases/not-a-number", "/api/cases/99999999999"):
        answer = api.client.get(path)
        assert answer.status_code == 404 and answer.mimetype == "application/json", path
        assert answer.get_json()["error"], path
    answer = api.client.get("/api/tasks/1/complete")
    assert answer.status_code == 405 and answer.mimetype == "application/json"
    assert set(answer.headers["Allow"].split(", ")) >= {"POST"}
    answer = api.client.delete("/api/health")
    assert answer.status_code == 405 and "GET" in answer.headers["Allow"]


# --- finding 12: formula injection in the exports ------------------------------------------------------

def test_a_department_named_like_a_formula_exports_as_text(app: Flask, gridflow: Gridflow) -> None:
    cgj = gridflow.reference.department("CGJ")
    gridflow.reference.change_department(user_id(gridflow, "admin"), "CGJ", {"name": EVIL_NAME, "kind": cgj["kind"]})
    assessor = logged_in(app, "assessor")

    answer = assessor.get("/assessment/export/departments.csv?month=2026-11")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    [cgj_row] = [row for row in rows if row[0] == "CGJ"]
    assert cgj_row[1] == "'" + EVIL_NAME

    answer = assessor.get("/assessment/export/departments.xlsx?month=2026-11")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.get_data())).active
    assert sheet is not None
    [cgj_cells] = [row for row in sheet.iter_rows(min_row=2) if row[0].value == "CGJ"]
    assert cgj_cells[1].value == "'" + EVIL_NAME and cgj_cells[1].data_type == "s"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
    assert isinstance(cgj_cells[2].value, int) and cgj_cells[2].data_type == "n"  # 派遣 stays a number


def test_one_rule_makes_a_cell_inert_and_leaves_numbers_alone() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert inert_cell(text) == "'" + text
    for value in (-3, -2.5, 0, 7, None, "城管局", "a=b", True):
        assert inert_cell(value) == value
