"""每月网格抽查 in a real browser: the assessor draws the month's grids with a seed, checks the
draw, and records a failed grid with a photo; a screenshot for the README."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from engine.assessment.sampling import draw_grids

from .browser import SCREENSHOTS, Office, png


def test_an_assessor_draws_checks_and_records_through_the_pages(office: Office, tmp_path: Path) -> None:  # noqa: F811
    page = office.person("assessor")
    page.goto(f"{office.base}/assessment/sampling/")
    page.fill("#draw-form input[name=seed]", "20261125")
    page.click("#draw-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已抽取 2026-11 的 11 个网格")
    rows = page.locator("section[data-month='2026-11'] tr.sampled-grid")
    expect(rows).to_have_count(11)
    grids = [f"{zone:02d}-{number:02d}" for zone in range(1, 12) for number in range(1, 4)]
    expected = sorted(draw_grids(20261125, grids, 11))
    assert [rows.nth(i).get_attribute("data-grid") for i in range(11)] == expected

    page.click("section[data-month='2026-11'] button.verify")
    expect(page.locator("#verification")).to_have_attribute("data-matches", "true")

    grid = expected[0]
    page.click(f"tr.sampled-grid[data-grid='{grid}'] a.open-inspection")
    page.fill("input[name=problems]", "2")
    page.click("#inspection-form button[type=submit]")  # no result chosen: named beside its field
    expect(page.locator("[data-field=passed] #error-passed")).to_be_visible()
    photo = tmp_path / "现场.png"
    photo.write_bytes(png())
    page.check("input[name=passed][value=false]")
    page.fill("textarea[name=notes]", "绿化带内垃圾未清理，店外经营一处")
    page.set_input_files("input[name=photos]", str(photo))
    page.click("#inspection-form button[type=submit]")
    expect(page.locator(f"tr.sampled-grid[data-grid='{grid}']")).to_have_attribute("data-state", "failed")
    for other in expected[1:4]:
        page.click(f"tr.sampled-grid[data-grid='{other}'] a.open-inspection")
        page.check("input[name=passed][value=true]")
        page.fill("input[name=problems]", "0")
        page.click("#inspection-form button[type=submit]")
    page.click("section[data-month='2026-11'] button.verify")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sampling.png"), full_page=True)

    leader = office.person("leader")
    leader.goto(f"{office.base}/assessment/sampling/2026-11/grids/{grid}")
    expect(leader.locator("#inspection")).to_have_attribute("data-passed", "false")
    expect(leader.locator("img.photo")).to_have_count(1)
    assert leader.locator("img.photo").evaluate("image => image.naturalWidth") == 8
