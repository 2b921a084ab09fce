"""The pages in a real browser: Debian's chromium driven by Playwright against a live server on
a real SQLite file, with CSRF on. A case walks from report to close through the pages only."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from engine import Gridflow
from engine.deadlines.clock import ManualClock

from .browser import SCREENSHOTS, Office, png


def submit(page: Page) -> None:
    page.click("#task-form button[type=submit]")


def test_a_case_walks_from_report_to_close_through_the_pages(office: Office, tmp_path: Path) -> None:
    """Every role of the office, pages only: a photo, a return, an extension and a rework."""
    photo = tmp_path / "现场.png"
    photo.write_bytes(png())
    case_id = office.report("SJ0502", "03-02", "人民路 18 号", "商户店外摆放货架", photo)
    expect(office.person("collector03").locator("img.photo")).to_have_count(1)

    page = office.open_task("operator", case_id, "register")
    page.check("input[name=decision][value=register]")
    submit(page)
    expect(page.locator(".flash")).to_contain_text("已办理")

    page = office.open_task("dispatcher", case_id, "dispatch")
    expect(page.locator("select[name=department]")).to_have_value("JD03")  # 后属地: the suggestion
    page.select_option("select[name=department]", "CGJ")
    submit(page)

    page = office.open_task("cgj", case_id, "handle")
    page.check("input[name=action][value=return]")
    page.fill("textarea[name=result]", "非本部门职责")
    submit(page)
    assert office.status(case_id) == "dispatching"

    page = office.open_task("dispatcher", case_id, "dispatch")
    submit(page)  # the suggested street office
    page = office.open_task("jd03", case_id, "handle")
    page.check("input[name=action][value=extend]")
    page.fill("input[name=extend_by]", "P1D")
    page.fill("textarea[name=result]", "需协调商户")
    submit(page)
    page = office.open_task("leader", case_id, "approve_extension")
    page.check("input[name=approved][value=true]")
    submit(page)
    for passed in (False, True):  # a failed check sends it back for rework
        page = office.open_task("jd03", case_id, "handle")
        page.check("input[name=action][value=done]")
        page.fill("textarea[name=result]", "已清理")
        submit(page)
        page = office.open_task("collector03", case_id, "check")
        page.check(f"input[name=passed][value={'true' if passed else 'false'}]")
        if not passed:
            page.fill("textarea[name=note]", "门前仍有杂物")  # what is still wrong: required on a fail
        submit(page)
    page = office.open_task("operator", case_id, "close")
    submit(page)
    assert office.status(case_id) == "closed"
    operator = office.person("operator")
    expect(operator.locator("#diagram")).to_have_attribute("data-rendered", "true")
    expect(operator.locator("#diagram g.djs-element.step-done[data-element-id=handle]")).to_have_count(1)
    SCREENSHOTS.mkdir(exist_ok=True)
    operator.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)
    timeline = office.person("operator").locator("ol.timeline li")
    # report, register, 2 dispatches, return, extension asked and approved, 2 handles, 2 checks, close
    expect(timeline).to_have_count(12)


def test_a_department_cannot_open_another_departments_task(office: Office) -> None:
    case_id = office.report("SJ0502", "03-02", "人民路 18 号", "店外经营")
    page = office.open_task("operator", case_id, "register")
    page.check("input[name=decision][value=register]")
    submit(page)
    page = office.open_task("dispatcher", case_id, "dispatch")
    submit(page)
    handle = office.open_task("jd03", case_id, "handle")
    task_url = handle.url

    other = office.person("cgj")
    answer = other.goto(task_url)
    assert answer is not None and answer.status == 403
    expect(other.locator("#forbidden")).to_have_text("无权访问")
    assert office.status(case_id) == "handling"
    operator = office.person("operator")  # the case page draws the diagram with the current step
    expect(operator.locator("#diagram")).to_have_attribute("data-rendered", "true")
    expect(operator.locator("#diagram g.djs-element.step-current[data-element-id=handle]")).to_have_count(1)
    expect(operator.locator("#diagram g.djs-element.step-done[data-element-id=dispatch]")).to_have_count(1)
    handle.reload()
    expect(handle.locator("#task-form")).to_be_visible()  # still open for its own department


def test_a_form_error_shows_beside_its_field(office: Office) -> None:
    collector = office.person("collector03")
    collector.click("text=上报")
    collector.select_option("select[name=category]", "BJ0101")
    collector.select_option("select[name=grid]", "03-01")
    collector.fill("textarea[name=description]", "井盖缺失")
    collector.click("form.card button[type=submit]")  # no address: the server names the field
    expect(collector.locator("#error-address")).to_contain_text("required")
    expect(collector.locator("textarea[name=description]")).to_have_value("井盖缺失")  # nothing lost

    collector.fill("input[name=address]", "解放路 3 号")
    collector.click("form.card button[type=submit]")
    case_id = int(re.search(r"/cases/(\d+)", collector.url).group(1))  # type: ignore[union-attr]
    page = office.open_task("operator", case_id, "register")
    page.check("input[name=decision][value=reject]")
    submit(page)
    error = page.locator(".field[data-field=reason] #error-reason")
    expect(error).to_contain_text("必填")
    assert office.status(case_id) == "registering"


def test_a_shared_task_is_claimed_and_released_from_the_inbox(office: Office) -> None:
    office.report("BJ0101", "03-01", "解放路 3 号", "井盖缺失")
    operator = office.person("operator")
    operator.goto(f"{office.base}/?q=解放路")
    operator.click("tr.task[data-task=register] button.claim")
    expect(operator.locator(".flash")).to_contain_text("已签收")
    expect(operator.locator("tr.task[data-task=register] button.release")).to_be_visible()
    operator.click("tr.task[data-task=register] button.release")
    expect(operator.locator("tr.task[data-task=register] button.claim")).to_be_visible()


def test_a_report_with_a_photo_keeps_the_file_on_disk_with_its_hash(
    office: Office, app_of_server: Gridflow, tmp_path: Path
) -> None:
    import hashlib

    picture = tmp_path / "井盖.png"
    picture.write_bytes(png())
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_bytes(b"this is text")
    collector = office.person("collector03")
    collector.click("text=上报")
    collector.select_option("select[name=category]", "BJ0101")
    collector.select_option("select[name=grid]", "03-01")
    collector.fill("input[name=address]", "解放路 3 号")
    collector.fill("textarea[name=description]", "井盖缺失")
    collector.set_input_files("input[name=photos]", str(not_a_picture))
    collector.click("form.card button[type=submit]")
    expect(collector.locator("#error-photos")).to_contain_text("not a JPEG or PNG")

    collector.set_input_files("input[name=photos]", str(picture))
    collector.click("form.card button[type=submit]")
    expect(collector.locator("#case-status")).to_have_text("待立案")
    image = collector.locator("img.photo")
    expect(image).to_have_count(1)
    # The browser fetched and decoded the stored file (waiting for the load, not for time).
    collector.wait_for_function("document.querySelector('img.photo').complete")
    assert collector.evaluate("document.querySelector('img.photo').naturalWidth") == 8
    digest = hashlib.sha256(png()).hexdigest()
    stored = app_of_server.photos.path(digest)
    assert stored.is_relative_to(tmp_path / "photos")
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    other_zone = office.person("collector07")
    answer = other_zone.goto(f"{office.base}/photos/{digest}")
    assert answer is not None and answer.status == 404  # not a case he may read


def test_screenshots_of_a_working_day(office: Office, app_of_server: Gridflow, clock: ManualClock) -> None:
    """Screenshots for the README: an inbox with green, yellow and red tasks, and a task form."""
    reports = [("BJ0101", "03-01", "解放路 3 号", "井盖缺失"), ("SJ0101", "03-02", "人民路 18 号", "暴露垃圾"),
               ("SJ0504", "03-03", "建设路 6 号", "机动车乱停放")]
    for category, grid, address, description in reports:
        office.report(category, grid, address, description)
        clock.advance(timedelta(minutes=25))
    # 10:15: the 09:00 report is past its 1-hour register limit, the 09:25 one in its last 20 %.
    app_of_server.timers.fire_due()
    operator = office.person("operator")
    operator.goto(f"{office.base}/")
    expect(operator.locator("span.light.red")).to_have_count(1)
    expect(operator.locator("span.light.yellow")).to_have_count(1)
    SCREENSHOTS.mkdir(exist_ok=True)
    operator.screenshot(path=str(SCREENSHOTS / "inbox.png"), full_page=True)
    operator.locator("tr.task a.open-task").first.click()
    operator.check("input[name=decision][value=reject]")
    submit(operator)
    expect(operator.locator("#error-reason")).to_be_visible()
    operator.screenshot(path=str(SCREENSHOTS / "task.png"), full_page=True)


def test_the_pages_speak_english_when_asked(office: Office) -> None:
    page = office.person("operator")
    expect(page.locator("h1")).to_contain_text("我的待办")
    page.click("text=English")
    expect(page.locator("h1")).to_contain_text("My tasks")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("text=中文")
    expect(page.locator("h1")).to_contain_text("我的待办")


def test_buttons_return_only_to_pages_of_this_site(app_of_server: Gridflow, server: str) -> None:
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"{server}/language/en", headers={"Referer": "https://evil.example/x"})
    try:
        opener.open(request)
    except urllib.error.HTTPError as answer:
        assert answer.code == 302
        assert answer.headers["Location"] in ("/", f"{server}/")
    else:
        raise AssertionError("expected a redirect")
