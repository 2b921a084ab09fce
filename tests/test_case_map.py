"""一张图: the open cases on the map as GeoJSON, scoped as case reads are (a department sees its
cases, a collector his zone's), filtered and paged; per-grid counts for the choropleth; what a
point finds (its grid, the nearest component, open cases within 50 m); the page in chromium."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from engine import Gridflow
from engine.deadlines.clock import ManualClock
from web import create_app, tile_source

from .browser import SCREENSHOTS
from .conftest import STREET_STALL, Api, logged_in, user_id, walk

# Points inside two demo grids (their outlines' representative points), and a box around the town.
IN_03_02 = (118.8307, 35.17355)
IN_01_01 = (118.8204, 35.17741)
TOWN = "118.70,35.10,118.95,35.25"
SCREENSHOTS_DOCS = SCREENSHOTS.parent.parent / "docs" / "screenshots"


def report_at(gridflow: Gridflow, reporter: str, grid: str, point: tuple[float, float], **fields: Any) -> int:
    body = STREET_STALL | {"grid": grid, "long": point[0], "lat": point[1]} | fields
    return gridflow.runtime.report_case(user_id(gridflow, reporter), body)


def two_cases(gridflow: Gridflow) -> tuple[int, int]:
    """One in 03-02 dispatched to the street office JD03, one in 01-01 dispatched to CGJ."""
    ours = report_at(gridflow, "collector03", "03-02", IN_03_02)
    walk(gridflow, ours, (("operator", "register", {"decision": "register"}),
                          ("dispatcher", "dispatch", {"department": "JD03"})))
    theirs = report_at(gridflow, "collector01", "01-01", IN_01_01, urgency="urgent")
    walk(gridflow, theirs, (("operator", "register", {"decision": "register"}),
                            ("dispatcher", "dispatch", {"department": "CGJ"})))
    return ours, theirs


def markers(client: Any, query: str = "") -> list[int]:
    answer = client.get(f"/map/cases.geojson?bbox={TOWN}{query}")
    assert answer.status_code == 200, answer.get_json()
    assert answer.mimetype == "application/geo+json"
    return [f["id"] for f in answer.get_json()["features"]]


def test_a_department_sees_its_markers_a_collector_his_zones_the_centres_all(app: Flask, gridflow: Gridflow) -> None:
    ours, theirs = two_cases(gridflow)
    assert markers(logged_in(app, "operator")) == [ours, theirs]
    assert markers(logged_in(app, "leader")) == [ours, theirs]
    assert markers(logged_in(app, "jd03")) == [ours]
    assert markers(logged_in(app, "cgj")) == [theirs]
    assert markers(logged_in(app, "collector03")) == [ours]
    assert markers(logged_in(app, "collector01")) == [theirs]


def test_the_box_the_filters_and_the_page_choose_the_markers(app: Flask, gridflow: Gridflow) -> None:
    ours, theirs = two_cases(gridflow)
    closed = report_at(gridflow, "collector03", "03-02", IN_03_02)
    walk(gridflow, closed, (("operator", "register", {"decision": "reject", "reason": "重复上报"}),))
    operator = logged_in(app, "operator")
    box = operator.get("/map/cases.geojson?bbox=118.826,35.170,118.835,35.176").get_json()
    assert [f["id"] for f in box["features"]] == [ours]
    feature = box["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [IN_03_02[0], IN_03_02[1]]}
    properties = feature["properties"]
    assert properties["status"] == "handling"
    assert properties["department"]["code"] == "JD03"
    assert properties["category"]["code"] == "SJ0502"
    assert properties["deadline_state"] == "normal" and properties["due_at"]
    assert markers(operator, "&department=CGJ") == [theirs]
    assert markers(operator, "&urgency=urgent") == [theirs]
    assert markers(operator, "&category=SJ0502&status=handling") == [ours, theirs]
    assert markers(operator, "&status=registering") == []
    assert markers(operator, "&period=2026-11") == [ours, theirs]
    assert markers(operator, "&period=2026-12") == []
    assert markers(operator, "&period=2026-11-25/2026-11-25") == [ours, theirs]
    page = operator.get(f"/map/cases.geojson?bbox={TOWN}&limit=1&offset=1").get_json()
    assert [f["id"] for f in page["features"]] == [theirs] and page["total"] == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "bbox"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=10,10,5,5", "bbox"),
        ("bbox=0,0,200,1", "bbox"),
        (f"bbox={TOWN}&limit=0", "limit"),
        (f"bbox={TOWN}&limit=5001", "limit"),
        (f"bbox={TOWN}&limit=x", "limit"),
        (f"bbox={TOWN}&offset=-1", "offset"),
        (f"bbox={TOWN}&urgency=soon", "urgency"),
        (f"bbox={TOWN}&period=last-week", "period"),
        (f"bbox={TOWN}&period=2026-13", "period"),
        (f"bbox={TOWN}&period=2020-01-01/9999-12-31", "period"),  # past the last day a date has
        (f"bbox={TOWN}&period=0001", "period"),  # year 1 in Beijing is before year 1 in UTC
        (f"bbox={TOWN}&period=%D9%A1%D9%A2%D9%A3%D9%A4", "period"),  # Arabic-Indic digits
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(app: Flask, query: str, field: str) -> None:
    answer = logged_in(app, "operator").get(f"/map/cases.geojson?{query}")
    assert answer.status_code == 422
    assert answer.get_json()["field"] == field


def test_counts_per_grid_for_the_choropleth(app: Flask, gridflow: Gridflow, clock: ManualClock) -> None:
    ours, theirs = two_cases(gridflow)
    operator = logged_in(app, "operator")
    assert operator.get("/map/counts?period=2026-11").get_json() == {
        "measure": "reports", "period": "2026-11", "grids": {"03-02": 1, "01-01": 1},
    }
    assert operator.get("/map/counts?period=2026-12").get_json()["grids"] == {}
    assert logged_in(app, "jd03").get("/map/counts").get_json()["grids"] == {"03-02": 1}
    assert operator.get("/map/counts?measure=overdue").get_json()["grids"] == {}
    clock.advance(timedelta(days=10))
    assert gridflow.timers.fire_due() > 0
    overdue = operator.get("/map/counts?measure=overdue&period=2026").get_json()["grids"]
    assert overdue["03-02"] >= 1 and overdue["01-01"] >= 1
    for query, field in (("measure=late", "measure"), ("period=yesterday", "period")):
        answer = operator.get(f"/map/counts?{query}")
        assert (answer.status_code, answer.get_json()["field"]) == (422, field)


def test_a_point_finds_its_grid_and_the_open_cases_within_50_m(app: Flask, gridflow: Gridflow) -> None:
    ours, _ = two_cases(gridflow)
    collector = logged_in(app, "collector03")
    near = collector.get(f"/map/near?lat={IN_03_02[1] + 0.0002}&long={IN_03_02[0]}&category=SJ0502").get_json()
    assert near["grid"] == "03-02"
    assert near["component"] is None
    assert [(c["id"], c["status"], c["category"]) for c in near["open_cases"]] == [(ours, "handling", "SJ0502")]
    assert 20 < near["open_cases"][0]["metres"] < 25
    far = collector.get(f"/map/near?lat={IN_03_02[1] + 0.001}&long={IN_03_02[0]}").get_json()
    assert far["open_cases"] == [] and far["grid"] is not None
    assert collector.get("/map/near?lat=0&long=0").get_json() == {"grid": None, "component": None, "open_cases": []}
    for query, field in (("long=118.8", "lat"), ("lat=35.1&long=x", "long"), ("lat=91&long=1", "lat"),
                         ("lat=nan&long=1", "lat")):
        answer = collector.get(f"/map/near?{query}")
        assert (answer.status_code, answer.get_json()["field"]) == (422, field)


def test_the_page_is_for_the_map_roles_and_its_json_needs_a_session(app: Flask) -> None:
    page = logged_in(app, "dispatcher").get("/map")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="case-map"' in text and 'data-tiles=""' in text and "地图" in text
    assert logged_in(app, "clerk").get("/map").status_code == 403
    assert logged_in(app, "clerk").get(f"/map/cases.geojson?bbox={TOWN}").status_code == 403
    assert "/map" not in logged_in(app, "clerk").get("/").get_data(as_text=True).split("<main>")[0]
    assert app.test_client().get("/map/counts").status_code == 302  # to the login page


def test_a_tile_server_is_passed_to_the_page_and_allowed_in_img_src(database_url: str, tmp_path: Any) -> None:
    tiles = "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}"
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "t", "INSTANCE_PATH": str(tmp_path),
                      "MAP_TILES": tiles, "MAP_ATTRIBUTION": "天地图"})
    try:
        page = logged_in(app, "operator").get("/map")
        assert "img-src 'self' https://*.tianditu.gov.cn " in page.headers["Content-Security-Policy"]
        assert 'data-attribution="天地图"' in page.get_data(as_text=True)
    finally:
        app.extensions["gridflow"].close()
    assert tile_source("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png") == "http://10.1.2.3:8080"


# --- /api -------------------------------------------------------------------------------------

def test_the_api_gives_grids_cases_in_a_box_and_components_near(api: Api, gridflow: Gridflow) -> None:
    ours, theirs = two_cases(gridflow)
    grids = api.get("/api/grids.geojson", "collector03")
    assert grids["type"] == "FeatureCollection" and len(grids["features"]) == 33
    assert [f["id"] for f in api.get(f"/api/map/cases?bbox={TOWN}", "operator")["features"]] == [ours, theirs]
    assert [f["id"] for f in api.get(f"/api/map/cases?bbox={TOWN}", "cgj")["features"]] == [theirs]
    refused = api.get("/api/map/cases?bbox=1,2", "operator", expect=422)
    assert refused["field"] == "bbox"
    assert api.get(f"/api/map/cases?bbox={TOWN}&limit=9999", "operator", expect=422)["field"] == "limit"
    near = api.get("/api/components/near?lat=35.17&long=118.83&within=100", "operator")
    assert near and all(c["metres"] <= 100 for c in near)
    assert [c["metres"] for c in near] == sorted(c["metres"] for c in near)
    one = near[0]
    query = f"lat={one['lat']}&long={one['long']}&within=1&category={one['category']}"
    assert [c["code"] for c in api.get(f"/api/components/near?{query}", "jd03")] == [one["code"]]
    assert api.get("/api/components/near?lat=35.17&long=118.83&category=SJ0502", "operator") == []
    assert api.get("/api/components/near?lat=95&long=118.83", "operator", expect=422)["field"] == "lat"
    assert api.get("/api/components/near?lat=35&long=118&within=0", "operator", expect=422)["field"] == "within"


# --- the page in chromium ----------------------------------------------------------------------

def test_a_marker_turns_red_once_the_deadline_passes_and_a_department_sees_only_its_own(
    browser: Browser, server: str, app_of_server: Gridflow, clock: ManualClock
) -> None:
    gridflow = app_of_server
    ours, theirs = two_cases(gridflow)
    for grid, point in (("03-02", (118.8300, 35.1720)), ("05-01", (118.8405, 35.1773))):
        report_at(gridflow, "collector03" if grid == "03-02" else "collector05", grid, point)

    def open_map(username: str, width: int = 1280, height: int = 800) -> Any:
        page = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}).new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.goto(f"{server}/map")
        expect(page.locator("#case-map")).to_have_attribute("data-ready", "true")
        return page

    page = open_map("operator")
    expect(page.locator(f"path.case-{ours}.light-green")).to_have_count(1)
    clock.advance(timedelta(days=10))
    assert gridflow.timers.fire_due() > 0
    page.reload()
    expect(page.locator("#case-map")).to_have_attribute("data-ready", "true")
    expect(page.locator(f"path.case-{ours}.light-red")).to_have_count(1)
    page.locator(f"path.case-{ours}").click()
    expect(page.locator(".leaflet-popup a.open-case")).to_have_attribute("href", f"/cases/{ours}")
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")
    page.select_option("select[name=measure]", "reports")
    expect(page.locator("#case-map")).to_have_attribute("data-choropleth", "reports")
    SCREENSHOTS_DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS_DOCS / "map-desktop.png"))

    department = open_map("cgj", 390, 844)  # a phone
    expect(department.locator("#case-map")).to_have_attribute("data-loaded", "1")
    expect(department.locator(f"path.case-{theirs}")).to_have_count(1)
    expect(department.locator("path.case-marker")).to_have_count(1)


def test_the_component_census_near_a_point_is_for_the_office(api: Api) -> None:
    query = "/api/components/near?lat=35.17&long=118.83&within=500"
    assert api.get(query, "operator")  # demo components lie within 500 m
    answer = api.call("GET", query, "open311", expect=403)
    assert "office" in answer["error"]
