"""The report page's map and the case and task pages' maps, in Debian's chromium on a phone: a
tap or the device's position places the point, the server finds the grid from it, a 部件 report
proposes the nearest component of its subtype and the dispatcher is then offered its owner."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, expect

from engine import Gridflow

from .browser import Office

PHONE: ViewportSize = {"width": 390, "height": 844}
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# The demo census's 雨水井盖 in grid 03-02, owned by 城管局 where its category's owner is 住建局.
COVER, COVER_OWNER = "BJ0103-03021", "CGJ"
NEAR_COVER = {"latitude": 35.17235, "longitude": 118.83224}  # about 5 m from it


def phone(browser: Browser, base: str, username: str, **context: Any) -> Page:
    page = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True, **context).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("我的待办")
    return page


def tap_inside(page: Page, grid: str) -> None:
    """Tap the middle of a grid's outline as the map draws it."""
    outline = page.locator("#report-map path.leaflet-interactive").nth(_grid_index(page, grid))
    box = outline.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _grid_index(page: Page, grid: str) -> int:
    codes = page.evaluate(
        "() => JSON.parse(document.getElementById('report-map-data').textContent)"
        ".outlines.features.map(f => f.properties.code)"
    )
    return int(codes.index(grid))


def case_id_of(page: Page) -> int:
    return int(re.search(r"/cases/(\d+)", page.url).group(1))  # type: ignore[union-attr]


def test_a_collector_taps_the_map_and_the_case_gets_that_grid(
    browser: Browser, server: str, app_of_server: Gridflow
) -> None:
    page = phone(browser, server, "collector03")
    page.goto(f"{server}/report")
    # A collector's map holds his own zone's three grids.
    expect(page.locator("#report-map path.leaflet-interactive")).to_have_count(3)
    page.select_option("select[name=category]", "SJ0502")
    tap_inside(page, "03-02")
    expect(page.locator("#grid")).to_have_value("03-02")
    assert page.input_value("#lat") and page.input_value("#long")
    page.fill("input[name=address]", "人民路 18 号")
    page.fill("textarea[name=description]", "商户店外摆放货架")
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, document.getElementById('report-map').offsetTop - 120)")
    page.mouse.move(1, 1)  # no grid's tooltip over the point
    page.screenshot(path=str(DOCS_SCREENSHOTS / "report-map-phone.png"), full_page=False)
    page.select_option("select[name=grid]", "")  # the server finds the grid from the point alone
    page.click("form.card button[type=submit]")
    expect(page.locator("#case-status")).to_have_text("待立案")
    collector = app_of_server.directory.authenticate("collector03", "demo")
    assert collector is not None
    case = app_of_server.cases.case(case_id_of(page), collector.id)
    assert case["grid"]["code"] == "03-02"
    assert case["lat"] is not None and case["long"] is not None
    # The case page shows its point on a map with the grid's outline.
    expect(page.locator("#case-map .leaflet-marker-icon")).to_have_count(1)
    expect(page.locator("#case-map path.leaflet-interactive")).to_have_count(1)


def test_a_point_in_another_grid_is_refused_beside_the_grid_and_nothing_typed_is_lost(
    browser: Browser, server: str
) -> None:
    page = phone(browser, server, "collector03")
    page.goto(f"{server}/report")
    page.select_option("select[name=category]", "SJ0502")
    tap_inside(page, "03-01")
    expect(page.locator("#grid")).to_have_value("03-01")
    page.select_option("select[name=grid]", "03-03")  # the reporter insists on another grid
    page.fill("input[name=address]", "人民路 20 号")
    page.fill("textarea[name=description]", "店外经营")
    page.click("form.card button[type=submit]")
    expect(page.locator("#error-grid")).to_contain_text("03-01")
    expect(page.locator("textarea[name=description]")).to_have_value("店外经营")
    expect(page.locator("input[name=address]")).to_have_value("人民路 20 号")
    assert page.input_value("#lat") and page.input_value("#long")
    expect(page.locator("#grid")).to_have_value("03-03")


def test_the_device_position_proposes_the_cover_and_its_owner_is_suggested(
    browser: Browser, server: str, office: Office
) -> None:
    page = phone(browser, server, "collector03", geolocation=NEAR_COVER, permissions=["geolocation"])
    page.goto(f"{server}/report")
    page.select_option("select[name=category]", "BJ0103")
    page.click("#use-my-position")
    expect(page.locator("#grid")).to_have_value("03-02")
    expect(page.locator("#component-proposal")).to_be_visible()
    expect(page.locator("#component-text")).to_contain_text(COVER)
    expect(page.locator("#component-text")).to_contain_text(COVER_OWNER)
    expect(page.locator("#component")).not_to_be_checked()  # the reporter confirms; nothing is assumed
    page.check("#component")
    page.fill("input[name=address]", "人民路与解放路口")
    page.fill("textarea[name=description]", "雨水井盖破损")
    page.click("form.card button[type=submit]")
    expect(page.locator("#case-status")).to_have_text("待立案")
    case_id = case_id_of(page)
    expect(page.locator("#case-component")).to_have_text(COVER)
    expect(page.locator("#case-component-owner")).to_have_text(COVER_OWNER)

    task = office.open_task("operator", case_id, "register")
    task.check("input[name=decision][value=register]")
    task.locator("#task-form button[type=submit]").click()
    task = office.open_task("dispatcher", case_id, "dispatch")
    expect(task.locator("select[name=department]")).to_have_value(COVER_OWNER)  # 先属主: this very cover
    expect(task.locator("#case-map .leaflet-marker-icon")).to_have_count(1)  # the task page's map


def test_a_cleared_proposal_links_no_component(browser: Browser, server: str, app_of_server: Gridflow) -> None:
    page = phone(browser, server, "collector03", geolocation=NEAR_COVER, permissions=["geolocation"])
    page.goto(f"{server}/report")
    page.select_option("select[name=category]", "BJ0103")
    page.click("#use-my-position")
    expect(page.locator("#component-text")).to_contain_text(COVER)
    page.fill("input[name=address]", "人民路与解放路口")
    page.fill("textarea[name=description]", "雨水井盖破损")
    page.click("form.card button[type=submit]")  # left unchecked
    expect(page.locator("#case-status")).to_have_text("待立案")
    collector = app_of_server.directory.authenticate("collector03", "demo")
    assert collector is not None
    case = app_of_server.cases.case(case_id_of(page), collector.id)
    assert (case["grid"]["code"], case["component"]) == ("03-02", None)
    expect(page.locator("#case-component")).to_have_count(0)
