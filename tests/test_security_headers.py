"""Issue 13: where a login and a button press may send the browser, a diagram file that carries a
script, and the headers every answer brings (Content-Security-Policy and the rest), with the
vendored bpmn-js, dmn-js and ECharts still drawing under that policy in chromium."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import ConsoleMessage, Page, expect

from engine import WORKFLOWS_DIR, Gridflow
from engine.deadlines.clock import ManualClock
from engine.definitions.repository import Upload
from web import create_app

from .browser import Office
from .conftest import TO_HANDLED, Api, csrf, logged_in, reported

# --- where a login goes next, where a button returns to ------------------------------------------


def log_in_with_next(app: Flask, next_target: str) -> tuple[FlaskClient, str]:
    """The login form posted with ?next= as a browser sends it (next_target is already
    percent-encoded); returns the client and where the answer sends it."""
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post(f"/login?next={next_target}",
                         data={"username": "operator", "password": "demo", "csrf_token": token})
    assert answer.status_code == 302, answer.status_code
    return client, answer.headers["Location"]


@pytest.mark.parametrize(
    "next_target",
    [
        "/%09/evil.example/index.html",  # a tab: the browser drops it and reads //evil.example
        "/%0d%0a/evil.example/index.html",  # CR and LF, dropped the same way (a 500 before)
        "%0d%0a//evil.example",
        "//evil.example",
        "/%5Cevil.example",  # /\evil.example: a backslash is a slash to a browser
        "%5C%5Cevil.example",
        "https://evil.example/",
        "%20//evil.example",  # a space in front is dropped too
        "javascript:alert(1)",
        "inbox",  # relative to nothing this site knows
    ],
)
def test_a_login_never_leaves_the_site(app: Flask, next_target: str) -> None:
    client, location = log_in_with_next(app, next_target)
    assert location == "/"
    assert client.get(location).status_code == 200


def test_a_login_with_cr_lf_in_next_sets_no_header_of_its_own(app: Flask) -> None:
    _, location = log_in_with_next(app, "/cases%0d%0aSet-Cookie:%20evil=1")
    assert location == "/casesSet-Cookie:%20evil=1"  # a path of this site, one header line


def test_a_login_goes_on_to_the_local_page_asked_for_with_its_query(app: Flask) -> None:
    target = "/assessment/bulletin?quarter=2026-Q4"
    _, location = log_in_with_next(app, quote(target, safe="/"))
    assert location == target
    _, location = log_in_with_next(app, quote("http://localhost/cases/1?tab=history", safe="/"))
    assert location == "/cases/1?tab=history"  # a full URL of this very site: its path


@pytest.mark.parametrize(
    "referrer, back",
    [
        ("http://localhost/assessment/?month=2026-11", "/assessment/?month=2026-11"),
        ("https://evil.example/x", "/"),
        ("http://localhost.evil.example/x", "/"),
        ("http://localhost//evil.example/x", "/"),
        ("http://localhost/\t/evil.example/x", "/"),
        ("http://evil.example@localhost.evil/x", "/"),
    ],
)
def test_a_button_returns_only_to_a_page_of_this_site(app: Flask, referrer: str, back: str) -> None:
    answer = app.test_client().get("/language/en", headers={"Referer": referrer})
    assert (answer.status_code, answer.headers["Location"]) == (302, back)


# --- a diagram that carries a script ------------------------------------------------------------

EVIL_SCRIPT = '<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(document.domain)</html:script>'
PROCESS_START = '<bpmn:process id="case_lifecycle" name="案件办理流程" isExecutable="true">'


def deploy_scripted_diagram(gridflow: Gridflow) -> None:
    """Version 2 of the case lifecycle with XHTML <script> in the process's extension elements:
    the engine ignores it, a browser showing the file as XML would run it."""
    xml = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text()
    assert PROCESS_START in xml
    extension = f"<bpmn:extensionElements>{EVIL_SCRIPT}</bpmn:extensionElements>"
    scripted = xml.replace(PROCESS_START, PROCESS_START + extension)
    scripted = scripted.replace('value="立案审核"', 'value="立案审核（新）"')  # a new process version too
    deployment = gridflow.repository.deploy([Upload("case_lifecycle.bpmn", scripted.encode())], "admin")
    assert [(f.name, f.version) for f in deployment.files] == [("case_lifecycle.bpmn", 2)]
    assert [(p.process_id, p.version) for p in deployment.processes] == [("case_lifecycle", 2)]


DIAGRAM_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def test_a_diagram_file_is_served_as_sandboxed_text(app: Flask, gridflow: Gridflow) -> None:
    deploy_scripted_diagram(gridflow)
    case_id = reported(gridflow)
    answer = logged_in(app, "operator").get(f"/cases/{case_id}/diagram.bpmn")
    assert answer.status_code == 200
    assert {name: answer.headers.get(name) for name in DIAGRAM_HEADERS} == DIAGRAM_HEADERS
    assert EVIL_SCRIPT in answer.get_data(as_text=True)  # the file as uploaded, only never run

    download = logged_in(app, "admin").get("/admin/files/case_lifecycle.bpmn/2")
    assert download.status_code == 200
    assert {name: download.headers.get(name) for name in DIAGRAM_HEADERS} == DIAGRAM_HEADERS
    assert download.headers["Content-Disposition"] == "attachment; filename=v2-case_lifecycle.bpmn"
    download = logged_in(app, "admin").get("/admin/files/time_limits.dmn/1")
    assert {name: download.headers.get(name) for name in DIAGRAM_HEADERS} == DIAGRAM_HEADERS


def test_the_script_in_a_diagram_never_runs_in_the_browser(office: Office, app_of_server: Gridflow) -> None:
    deploy_scripted_diagram(app_of_server)
    case_id = reported(app_of_server, TO_HANDLED)
    page = office.person("operator")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{office.base}/cases/{case_id}/diagram.bpmn")
    expect(page.locator("body")).to_contain_text("alert(document.domain)")  # shown as text
    page.goto(f"{office.base}/cases/{case_id}")
    expect(page.locator("#diagram[data-rendered=true] svg").first).to_be_visible()  # bpmn-js still reads it
    assert dialogs == []


# --- the headers on every answer -----------------------------------------------------------------

PAGE_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


def policy_of(headers: dict[str, str]) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in headers["Content-Security-Policy"].split(";")}


def test_every_answer_brings_the_security_headers(app: Flask, api: Api) -> None:
    operator = logged_in(app, "operator")
    answers = {
        "login page": app.test_client().get("/login"),
        "inbox": operator.get("/"),
        "error page": operator.get("/cases/999999"),
        "redirect": app.test_client().get("/"),
        "static file": app.test_client().get("/static/gridflow.css"),
        "vendored library": app.test_client().get("/static/vendor/bpmn-js/bpmn-js.css"),
        "API": api.client.get("/api/tasks", headers={"Authorization": f"Bearer {api.token('operator')}"}),
        "API refusal": app.test_client().get("/api/tasks"),
        "Open311": app.test_client().get("/open311/v2/services.json"),
    }
    for what, answer in answers.items():
        headers = dict(answer.headers)
        assert all(name in headers for name in PAGE_HEADERS), (what, answer.status_code, headers)
        policy = policy_of(headers)
        assert policy["script-src"] == "script-src 'self'", what
        assert policy["object-src"] == "object-src 'none'", what
        assert policy["base-uri"] == "base-uri 'self'", what
        assert policy["frame-ancestors"] == "frame-ancestors 'none'", what
        assert policy["form-action"] == "form-action 'self'", what
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == (
            "DENY", "nosniff", "same-origin"), what
    assert answers["API refusal"].status_code == 401 and answers["error page"].status_code == 404


def test_no_page_writes_a_script_inline(app: Flask) -> None:
    """Only <script src> and JSON data blocks: the policy would refuse anything else."""
    templates = Path(app.root_path) / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template


def secure_app(monkeypatch: pytest.MonkeyPatch, database_url: str, clock: ManualClock, tmp_path: Path,
               setting: str | None) -> Flask:
    if setting is None:
        monkeypatch.delenv("GRIDFLOW_SECURE_COOKIES", raising=False)
    else:
        monkeypatch.setenv("GRIDFLOW_SECURE_COOKIES", setting)
    return create_app({"DATABASE_URL": database_url, "CLOCK": clock, "SECRET_KEY": "test", "TESTING": True,
                       "INSTANCE_PATH": str(tmp_path / "instance")})


@pytest.mark.parametrize("setting, secure", [("1", True), (None, False), ("0", False)])
def test_the_session_cookie_is_secure_when_configured(
    monkeypatch: pytest.MonkeyPatch, database_url: str, clock: ManualClock, tmp_path: Path,
    setting: str | None, secure: bool,
) -> None:
    app = secure_app(monkeypatch, database_url, clock, tmp_path, setting)
    try:
        client = app.test_client()
        https = "https://localhost"  # as behind the HTTPS proxy it is meant for
        token = csrf(client.get("/login", base_url=https).get_data(as_text=True))
        answer = client.post("/login", base_url=https, headers={"Referer": f"{https}/login"},  # Flask-WTF on HTTPS
                             data={"username": "operator", "password": "demo", "csrf_token": token})
        assert answer.status_code == 302
        [cookie] = [value for name, value in answer.headers.items() if name == "Set-Cookie"]
        assert ("; Secure" in cookie) is secure, cookie
        assert app.config["PREFERRED_URL_SCHEME"] == ("https" if secure else "http")
    finally:
        app.extensions["gridflow"].close()


# --- bpmn-js, dmn-js and ECharts under the policy, in chromium ----------------------------------

# What chromium says that is no fault of this site's policy: the favicon it asks for (the site
# has none), and the development build of Inferno inside the vendored dmn-js bundle.
EXPECTED_NOISE = ("favicon.ico", "development build of Inferno")
WATCH_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) =>
  (window.policyViolations ||= []).push(`${event.effectiveDirective} ${event.blockedURI} ${event.sourceFile}`));"""


def watched(page: Page) -> Callable[[], list[str]]:
    """Collects the page's console errors, uncaught errors and Content-Security-Policy violations;
    the function returned lists them (the violations of the page open now) and starts again."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        text = f"{message.text} {message.location.get('url', '')}"
        if message.type == "error" and not any(noise in text for noise in EXPECTED_NOISE):
            problems.append(f"console: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"error: {error}"))
    page.context.add_init_script(WATCH_VIOLATIONS)

    def seen() -> list[str]:
        found = problems + [f"policy: {v}" for v in page.evaluate("window.policyViolations || []")]
        problems.clear()
        return found

    return seen


def test_the_diagrams_and_charts_draw_under_the_policy(office: Office, app_of_server: Gridflow) -> None:
    case_id = reported(app_of_server, TO_HANDLED)

    operator = office.person("operator")
    seen = watched(operator)
    operator.goto(f"{office.base}/cases/{case_id}")  # bpmn-js's viewer
    expect(operator.locator("#diagram[data-rendered=true] svg").first).to_be_visible()
    expect(operator.locator("#diagram .djs-element[data-element-id=handle]")).to_be_visible()
    operator.locator("#diagram .djs-element[data-element-id=handle]").hover()
    assert seen() == []

    admin = office.person("admin")
    seen = watched(admin)
    admin.goto(f"{office.base}/admin/files/case_lifecycle.bpmn/1/edit")  # bpmn-js's modeler
    expect(admin.locator("#canvas[data-ready=true] svg").first).to_be_visible()
    admin.locator(".djs-element[data-element-id=register]").click()  # the properties panel
    expect(admin.locator("#element-form input[name=id]")).to_have_value("register")
    admin.locator(".djs-element[data-element-id=register]").dblclick()  # direct editing of the name
    admin.keyboard.type("！")
    admin.locator("h1").click()
    assert seen() == []
    admin.goto(f"{office.base}/admin/files/time_limits.dmn/1/edit")  # dmn-js's decision table
    expect(admin.locator("#canvas[data-ready=true] td[data-col-id=time_limits_out_handle]").first).to_be_visible()
    admin.locator("td[data-col-id=time_limits_out_handle]").last.click()
    admin.keyboard.type("1")
    admin.locator("h1").click()
    assert seen() == []

    leader = office.person("leader")
    seen = watched(leader)
    leader.goto(f"{office.base}/assessment/?month=2026-11")  # ECharts
    for chart in ("chart-weekly", "chart-on-time", "chart-grid-heat"):
        expect(leader.locator(f"#{chart}[data-drawn=true] svg")).to_be_visible()
        leader.locator(f"#{chart} svg").hover()  # the tooltip
    assert seen() == []
    leader.goto(f"{office.base}/assessment/bulletin?quarter=2026-Q4")
    leader.evaluate("window.print = () => { document.body.dataset.printed = 'true'; }")
    leader.click("#print-bulletin")  # the button's handler, from bulletin.js
    expect(leader.locator("body")).to_have_attribute("data-printed", "true")
    assert seen() == []

