"""基础数据管理 in a real browser: the administrator opens a new zone and grid, gives it a
collector with a password, and the collector logs in with it and finds the zone's work; a
screenshot for the README."""
from __future__ import annotations

from playwright.sync_api import expect

from engine import Gridflow

from .browser import SCREENSHOTS, Office


def test_an_administrator_opens_a_zone_and_its_collector_starts_work(
    office: Office, app_of_server: Gridflow  # noqa: F811
) -> None:
    page = office.person("admin")
    page.goto(f"{office.base}/admin/reference/")
    expect(page.locator("tr[data-kind=grids] .count")).to_have_text("33")

    page.click("#reference-nav a[data-kind=zones]")
    page.click("#add-row")
    page.fill("input[name=code]", "12")
    page.fill("input[name=name]", "第12网区（滨河新区）")
    page.click("#reference-form button[type=submit]")
    expect(page.locator("#row-12")).to_be_visible()

    page.goto(f"{office.base}/admin/reference/grids/new")
    page.fill("input[name=code]", "12-01")
    page.fill("input[name=name]", "滨河1号网格")
    page.select_option("select[name=territory_department]", "JD03")
    page.click("#reference-form button[type=submit]")  # no zone chosen: named beside its field
    expect(page.locator("[data-field=zone] #error-zone")).to_be_visible()
    expect(page.locator("input[name=code]")).to_have_value("12-01")
    page.select_option("select[name=zone]", "12")
    page.click("#reference-form button[type=submit]")
    expect(page.locator("#row-12-01 td[data-field=zone]")).to_contain_text("第12网区（滨河新区）")

    page.goto(f"{office.base}/admin/reference/users/new")
    page.fill("input[name=username]", "collector12")
    page.fill("input[name=display_name]", "采集员12（第12网区）")
    page.select_option("select[name=zone]", "12")
    page.check("input[name=roles][value=collector]")
    page.fill("input[name=password]", "巡查网格-2026")
    page.click("#reference-form button[type=submit]")
    expect(page.locator("#row-collector12 td[data-field=roles]")).to_have_text("信息采集员")
    page.goto(f"{office.base}/admin/reference/users/collector12/edit")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reference.png"), full_page=True)

    operator = office.person("operator")  # a citizen's call about the new grid: verified on site first
    operator.goto(f"{office.base}/report")
    operator.select_option("select[name=category]", "SJ0101")
    operator.select_option("select[name=grid]", "12-01")
    operator.fill("input[name=address]", "滨河路 1 号")
    operator.fill("textarea[name=description]", "路边垃圾堆积")
    operator.select_option("select[name=channel]", "hotline")
    operator.click("form.card button[type=submit]")
    expect(operator.locator("#case-status")).to_have_text("待核实")
    case_id = int(operator.url.rstrip("/").rsplit("/", 1)[1])

    newcomer = office.browser.new_context(locale="zh-CN").new_page()
    newcomer.goto(f"{office.base}/login")
    newcomer.fill("input[name=username]", "collector12")
    newcomer.fill("input[name=password]", "巡查网格-2026")
    newcomer.click("button[type=submit]")
    expect(newcomer.locator(f"tr.task[data-case='{case_id}'][data-task=verify]")).to_be_visible()
    collector03 = office.person("collector03")
    collector03.goto(f"{office.base}/")
    expect(collector03.locator(f"tr.task[data-case='{case_id}']")).to_have_count(0)
    assert [u["username"] for u in app_of_server.reference.users() if u["zone"] == "12"] == ["collector12"]
