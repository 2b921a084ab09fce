"""The assessment pages in a real browser: the figures tables, the charts drawn by ECharts,
the printable bulletin, CSV and XLSX exports, and who may see them."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from playwright.sync_api import expect

from engine import Gridflow

from .browser import Office
from .conftest import TO_HANDLED, reported


def test_the_assessment_page_draws_its_charts_and_exports_its_tables(office: Office, app_of_server: Gridflow) -> None:
    reported(app_of_server, TO_HANDLED)
    page = office.person("assessor")
    page.click("header nav >> text=考核")
    page.goto(f"{office.base}/assessment/?month=2026-11")
    for chart in ("chart-weekly", "chart-on-time", "chart-grid-heat"):
        expect(page.locator(f"#{chart}[data-drawn=true] svg")).to_be_visible()
    jd03 = page.locator("#departments tr[data-row=JD03]")
    expect(jd03.locator("td[data-key=handled]")).to_have_text("1")
    expect(jd03.locator("td[data-key=on_time_rate]")).to_have_text("100.0%")
    expect(page.locator("#grids tr[data-row='03-02'] td[data-key=reported]")).to_have_text("1")
    page.screenshot(path="tests/screenshots/assessment.png", full_page=True)

    exported = page.request.get(f"{office.base}/assessment/export/departments.csv?month=2026-11")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.body().decode("utf-8-sig"))))
    assert rows[0][:5] == ["部门代码", "部门", "派遣", "处置", "按期处置率"]
    assert [r for r in rows if r[0] == "JD03"][0][2:5] == ["1", "1", "1.0"]
    workbook = page.request.get(f"{office.base}/assessment/export/grids.xlsx?month=2026-11")
    sheet = load_workbook(io.BytesIO(workbook.body())).active
    assert [c.value for c in sheet[1]][:3] == ["网格", "名称", "上报"]
    assert [row[2] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "03-02"] == [1]

    page.goto(f"{office.base}/assessment/?month=2026-13")
    expect(page.locator("#error-month")).to_contain_text("2026-11")


def test_the_bulletin_ranks_and_prints_and_others_may_not_see_it(office: Office, app_of_server: Gridflow) -> None:
    reported(app_of_server, TO_HANDLED)
    page = office.person("leader")
    page.goto(f"{office.base}/assessment/bulletin?quarter=2026-Q4")
    expect(page.locator("h1")).to_have_text("2026年第4季度城市管理部门考评通报")
    expect(page.locator("#scores tr[data-row=JD03] td[data-key=rank]")).to_have_text("1")
    expect(page.locator("#flagged")).to_have_text("无。")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()

    collector = office.person("collector03")
    answer = collector.goto(f"{office.base}/assessment/")
    assert answer is not None and answer.status == 403
    expect(collector.locator("header nav >> text=考核")).to_have_count(0)
