"""The administrator changes the process in the browser: bpmn-js's modeler and dmn-js's table
editor served by the app, deploy checks before anything is stored, and the next case runs on
what was deployed."""
from __future__ import annotations

import io

from flask import Flask
from playwright.sync_api import Page, expect

from engine import WORKFLOWS_DIR, Gridflow

from .browser import SCREENSHOTS, Office
from .conftest import TO_CLOSED, TO_HANDLED, Api, csrf, logged_in, reported, user_id


def open_editor(office: Office, file_name: str) -> Page:
    page = office.person("admin")
    page.click("header nav >> text=系统管理")
    page.locator(f"#files tr[data-file='{file_name}'] a.edit").first.click()
    expect(page.locator("#canvas[data-ready=true]")).to_be_visible()
    return page


def middle_of(page: Page, element_id: str) -> tuple[float, float]:
    """Where on the screen the middle of a drawn element (e.g. a sequence flow) is."""
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_an_admin_adds_a_task_in_a_lane_and_the_next_case_reaches_it(office: Office, app_of_server: Gridflow) -> None:
    page = open_editor(office, "case_lifecycle.bpmn")
    page.click(".djs-palette .entry.bpmn-icon-task")  # 创建任务, then drop it on the flow after 结案
    x, y = middle_of(page, "f_closed")
    page.mouse.move(x - 40, y + 30)
    page.mouse.move(x, y, steps=8)  # the new task follows the pointer onto the flow
    page.mouse.click(x, y)  # dropped on the flow, it is inserted into it
    page.select_option("#element-form select[name=task_type]", "bpmn:UserTask")
    expect(page.locator("#element-form input[name=type]")).to_have_value("UserTask")
    expect(page.locator("#element-form input[name=lane]")).to_have_value("operator")
    page.fill("#element-form input[name=name]", "归档")
    page.locator("#element-form input[name=name]").dispatch_event("change")
    page.click("#add-property")
    page.locator(".property-row .property-name").last.fill("title")
    page.locator(".property-row .property-value").last.fill("案卷归档")
    page.locator(".property-row .property-value").last.dispatch_event("change")
    page.click("#deploy")
    expect(page.locator("#deploy-result")).to_have_attribute("data-outcome", "deployed")
    expect(page.locator("#deploy-result")).to_contain_text("case_lifecycle v2")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "modeler.png"))

    case_id = reported(app_of_server, TO_CLOSED)  # a new case: it starts on version 2
    operator = office.person("operator")
    operator.goto(f"{office.base}/")
    archive = operator.locator(f"tr.task[data-case='{case_id}']")
    expect(archive.locator("a.open-task")).to_have_text("案卷归档")


def test_a_broken_edit_is_refused_with_the_element_named(office: Office, app_of_server: Gridflow) -> None:
    page = open_editor(office, "case_lifecycle.bpmn")
    page.locator(".djs-element[data-element-id=set_handle_deadline]").click()
    expect(page.locator("#element-form textarea[name=script]")).to_be_visible()
    page.fill("#element-form textarea[name=script]", "handle_due = deadline_after(handle_limit,")
    page.locator("#element-form textarea[name=script]").dispatch_event("change")
    page.click("#deploy")
    expect(page.locator("#deploy-result")).to_have_attribute("data-outcome", "refused")
    expect(page.locator("#problems li[data-element=set_handle_deadline]")).to_be_visible()
    overview = app_of_server.repository.overview()
    assert [p["version"] for p in overview["processes"] if p["id"] == "case_lifecycle"] == [1]


def test_a_dmn_cell_edit_changes_the_next_cases_limit(office: Office, app_of_server: Gridflow) -> None:
    page = open_editor(office, "time_limits.dmn")
    # The default rule (the last row): the handling limit, one working day, becomes two.
    cell = page.locator("td[data-col-id=time_limits_out_handle]").last
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('"P2D"')
    page.locator("h1").click()
    page.click("#deploy")
    expect(page.locator("#deploy-result")).to_have_attribute("data-outcome", "deployed")

    case_id = reported(app_of_server, TO_HANDLED[:2])
    jd03 = user_id(app_of_server, "jd03")
    [handle] = [t for t in app_of_server.inbox.tasks_for(jd03, stage="handle") if t["case_id"] == case_id]
    assert handle["due_at"].startswith("2026-11-27T01:00")  # Wednesday 09:00 + 2 working days, in UTC


def test_the_admin_compares_versions_and_moves_running_cases_after_a_dry_run(app: Flask, api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]  # waits in 立案 on version 1
    renamed = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text().replace('value="立案审核"', 'value="立案审核（新）"')
    upload = {"file": (io.BytesIO(renamed.encode()), "case_lifecycle.bpmn")}
    api.call("POST", "/api/definitions", "admin", 201, data=upload, content_type="multipart/form-data")
    admin = logged_in(app, "admin")
    index = admin.get("/admin/").get_data(as_text=True)
    assert "/admin/processes/case_lifecycle/diff?to=2" in index
    diff = admin.get("/admin/processes/case_lifecycle/diff?to=2").get_data(as_text=True)
    assert 'data-element="register"' in diff and "立案审核（新）" in diff

    page = admin.get("/admin/processes/case_lifecycle/migrate").get_data(as_text=True)
    form = {"from_version": "1", "to_version": "2", "csrf_token": csrf(page)}
    dry = admin.post("/admin/processes/case_lifecycle/migrate", data=form | {"dry_run": "on"}).get_data(as_text=True)
    assert f'<li data-case="{case_id}">' in dry.split('id="not-migrated"')[0]
    assert api.case(case_id)["process"]["version"] == 1  # a dry run moves nothing
    admin.post("/admin/processes/case_lifecycle/migrate", data=form)
    assert api.case(case_id)["process"]["version"] == 2
    assert api.task("operator", case_id, "register")["title"] == "立案审核（新）"


def test_only_administrators_reach_the_administration_area(app: Flask) -> None:
    operator = logged_in(app, "operator")
    for path in ("/admin/", "/admin/files/case_lifecycle.bpmn/1", "/admin/files/case_lifecycle.bpmn/1/edit",
                 "/admin/processes/case_lifecycle/migrate", "/admin/reference/"):
        assert operator.get(path).status_code == 403, path
    page = operator.get("/").get_data(as_text=True)
    upload = {"file": (io.BytesIO(b"<x/>"), "case_lifecycle.bpmn"), "csrf_token": csrf(page)}
    assert operator.post("/admin/deploy", data=upload, content_type="multipart/form-data").status_code == 403
