"""The map at the engine's level: a position finds its grid, a reported 部件 finds the nearest
component of its subtype and its owner (先属主 for this very object), outlines are checked per
feature, and an outline change by one process is seen by another on the same database."""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from engine import DeployRefused, Forbidden, Gridflow, InvalidField, Settings, User, tables
from engine.geo import metres_between, read_outlines
from engine.office.demo import COMPONENTS, GRIDS_PER_ZONE, STREET_OFFICES
from engine.office.demo_map import grid_outline

from .conftest import Api

ALL_GRIDS = [(int(zone), number) for zone in STREET_OFFICES for number in range(1, GRIDS_PER_ZONE + 1)]
OUTSIDE = (118.70, 35.10)  # (lon, lat) some kilometres west of the town
METRES_PER_DEGREE = 111_320.0


def centre(zone: int, number: int) -> tuple[float, float]:
    point = grid_outline(zone, number).centroid
    return point.x, point.y


def east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon + metres / (METRES_PER_DEGREE * math.cos(math.radians(lat))), lat


def user_id(gridflow: Gridflow, username: str) -> int:
    with gridflow.sessions() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


def component_row(gridflow: Gridflow, **where: Any) -> Any:
    with gridflow.sessions() as session:
        query = select(tables.Component).filter_by(**where).order_by(tables.Component.code)
        return session.scalars(query).first()


# --- a position finds its grid --------------------------------------------------------------------


def test_every_demo_grids_centroid_finds_that_grid(gridflow: Gridflow) -> None:
    with gridflow.sessions() as session:
        for zone, number in ALL_GRIDS:
            assert gridflow.grids.grid_at(session, *centre(zone, number)) == f"{zone:02d}-{number:02d}"


def test_a_point_outside_all_grids_finds_none(gridflow: Gridflow) -> None:
    with gridflow.sessions() as session:
        assert gridflow.grids.grid_at(session, *OUTSIDE) is None


BODY = {
    "category": "SJ0502", "grid": "03-02", "description": "窨井盖缺失", "address": "人民路 18 号",
    "urgency": "normal", "channel": "hotline",
}


def report(gridflow: Gridflow, user: str = "operator", **fields: Any) -> int:
    """A report through the engine (runtime.report_case), a field given as None left out."""
    body = {name: value for name, value in (BODY | fields).items() if value is not None}
    return gridflow.runtime.report_case(user_id(gridflow, user), body)


def _cases(gridflow: Gridflow) -> int:
    with gridflow.sessions() as session:
        return len(session.scalars(select(tables.Case.id)).all())


def test_a_report_with_lat_and_long_only_gets_its_grid(gridflow: Gridflow) -> None:
    lon, lat = centre(5, 2)
    case_id = report(gridflow, grid=None, lat=lat, long=lon)
    with gridflow.sessions() as session:
        case = session.get(tables.Case, case_id)
        assert case is not None
        assert (case.grid_code, case.zone_code) == ("05-02", "05")
        assert (case.lon, case.lat) == pytest.approx((lon, lat))


def test_post_api_cases_with_lat_and_long_only_gets_its_grid(api: Api, gridflow: Gridflow) -> None:
    lon, lat = centre(5, 2)
    body = {name: value for name, value in BODY.items() if name != "grid"} | {"lat": lat, "long": lon}
    created = api.call("POST", "/api/cases", "operator", 201, json=body)
    assert api.case(created["id"])["grid"]["code"] == "05-02"


def test_post_api_cases_with_a_disagreeing_grid_is_422_grid(api: Api, gridflow: Gridflow) -> None:
    lon, lat = centre(5, 2)
    refused = api.call("POST", "/api/cases", "operator", 422, json=BODY | {"grid": "03-02", "lat": lat, "long": lon})
    assert refused["field"] == "grid"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"grid": "03-02", "lat": centre(5, 2)[1], "long": centre(5, 2)[0]}, "grid"),  # the point is in 05-02
        ({"grid": None, "lat": OUTSIDE[1], "long": OUTSIDE[0]}, "lat"),  # in no grid
        ({"lat": "35.17", "long": 118.83}, "lat"),
        ({"lat": 35.17, "long": "118.83"}, "long"),
        ({"lat": True, "long": 118.83}, "lat"),
        ({"lat": 35.17}, "long"),  # one without the other
        ({"lat": 90.5, "long": 118.83}, "lat"),
        ({"lat": -91, "long": 118.83}, "lat"),
        ({"lat": 35.17, "long": 180.01}, "long"),
        ({"lat": 35.17, "long": -200}, "long"),
        ({"lat": float("nan"), "long": 118.83}, "lat"),
    ],
)
def test_a_refused_position_names_its_field_and_stores_nothing(
    gridflow: Gridflow, fields: dict[str, Any], field: str
) -> None:
    before = _cases(gridflow)
    with pytest.raises(InvalidField) as refused:
        report(gridflow, **fields)
    assert refused.value.field == field
    assert _cases(gridflow) == before


# --- the nearest component ------------------------------------------------------------------------


def test_the_demo_census_has_covers_lamps_and_hydrants_some_owned_by_another_department(gridflow: Gridflow) -> None:
    with gridflow.sessions() as session:
        rows = session.scalars(select(tables.Component)).all()
        assert len(rows) >= 30
        assert {r.category_code for r in rows} >= {"BJ0101", "BJ0105", "BJ0106"}
        assert any(r.owner_department_code != COMPONENTS[r.category_code][1] for r in rows)
        for row in rows:  # every one inside its grid
            zone, number = int(row.code[7:9]), int(row.code[9:11])
            assert gridflow.grids.grid_at(session, row.lon, row.lat) == f"{zone:02d}-{number:02d}"


def test_nearest_component_within_30_m_of_its_category_only(gridflow: Gridflow) -> None:
    lamp = component_row(gridflow, category_code="BJ0106")
    lon, lat = east_of(lamp.lon, lamp.lat, 29)
    found = gridflow.components.nearest("BJ0106", lon, lat)
    assert found is not None and found["code"] == lamp.code
    assert found["metres"] == pytest.approx(29, abs=0.5)
    assert gridflow.components.nearest("BJ0105", lon, lat) is None  # no hydrant this close
    far = east_of(lamp.lon, lamp.lat, 31)
    assert metres_between(lamp.lon, lamp.lat, *far) == pytest.approx(31, abs=0.1)
    assert gridflow.components.nearest("BJ0106", *far) is None
    assert [c["code"] for c in gridflow.components.near(lon, lat, 30)] == [lamp.code]
    assert gridflow.components.near(*far, 30) == []


def _dispatch_default(api: Api, case_id: int) -> str:
    api.complete("operator", case_id, "register", decision="register")
    dispatch = api.task("dispatcher", case_id, "dispatch")
    field = api.get(f"/api/tasks/{dispatch['id']}", "dispatcher")["fields"][0]
    assert field["name"] == "department"
    return field["default"]


def test_a_reported_component_links_the_case_and_its_owner_is_suggested_first(api: Api, gridflow: Gridflow) -> None:
    # A component whose owner is not its category's owner: 先属主 for this very object.
    with gridflow.sessions() as session:
        rows = session.scalars(select(tables.Component).order_by(tables.Component.code)).all()
        other = next(r for r in rows if r.owner_department_code and r.owner_department_code
                     != COMPONENTS[r.category_code][1] and COMPONENTS[r.category_code][1])
        code, category, owner, component_id = other.code, other.category_code, other.owner_department_code, other.id
        lon, lat = other.lon, other.lat
        grid_code = gridflow.grids.grid_at(session, lon, lat)
    assert grid_code is not None
    collector = "collector" + grid_code[:2]
    created = {"id": report(
        gridflow, collector, channel="collector", category=category, grid=None, lat=lat, long=lon, component=code
    )}
    with gridflow.sessions() as session:
        case = session.get(tables.Case, created["id"])
        assert case is not None and case.component_id == component_id and case.grid_code == grid_code
    assert _dispatch_default(api, created["id"]) == owner
    assert [c["id"] for c in gridflow.components.component(code)["cases"]] == [created["id"]]

    # Without a component, the same category goes to the category's owner.
    plain = report(gridflow, collector, channel="collector", category=category, grid=grid_code)
    assert _dispatch_default(api, plain) == COMPONENTS[category][1]


def test_a_component_of_another_category_or_unknown_is_refused(gridflow: Gridflow) -> None:
    lamp = component_row(gridflow, category_code="BJ0106")
    before = _cases(gridflow)
    for fields in ({"category": "BJ0105", "component": lamp.code}, {"category": "BJ0106", "component": "NO-SUCH"}):
        with pytest.raises(InvalidField) as refused:
            report(gridflow, grid=None, lat=lamp.lat, long=lamp.lon, **fields)
        assert refused.value.field == "component"
    assert _cases(gridflow) == before


# --- outlines read and checked per feature --------------------------------------------------------


def feature(code: str, ring: list[tuple[float, float]], zone: str = "01") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"网格{code}", "zone": zone},
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring + ring[:1]]]},
    }


SQUARE = [(118.80, 35.10), (118.81, 35.10), (118.81, 35.11), (118.80, 35.11)]


def test_read_outlines_names_a_bow_tie_an_overlap_and_a_code_twice() -> None:
    bow_tie = [(118.90, 35.10), (118.91, 35.11), (118.91, 35.10), (118.90, 35.11)]
    shifted = [(x + 0.005, y) for x, y in SQUARE]  # covers half of SQUARE
    apart = [(x + 0.05, y) for x, y in SQUARE]
    text = json.dumps({"type": "FeatureCollection", "features": [
        feature("A", SQUARE), feature("B", bow_tie), feature("C", shifted), feature("A", apart),
    ]})
    outlines, problems = read_outlines(text)
    assert [o.code for o in outlines] == ["A", "C"]
    found = {(p.feature, p.code): p.message for p in problems}
    assert "invalid" in found[(2, "B")] and "Self-intersection" in found[(2, "B")]
    assert "also feature 1" in found[(4, "A")]
    assert "overlaps grid C (feature 3)" in found[(1, "A")]
    assert len(problems) == 3


def test_read_outlines_takes_neighbours_sharing_an_edge() -> None:
    neighbour = [(x + 0.01, y) for x, y in SQUARE]
    outlines, problems = read_outlines(json.dumps({"type": "FeatureCollection", "features": [
        feature("A", SQUARE), feature("B", neighbour),
    ]}))
    assert problems == [] and [o.code for o in outlines] == ["A", "B"]


def test_the_preview_lists_problems_and_applying_them_changes_nothing(gridflow: Gridflow) -> None:
    collection = gridflow.grids.export()
    assert len(collection["features"]) == 33
    collection["features"][1]["geometry"] = collection["features"][0]["geometry"]  # two grids on one block
    preview = gridflow.grids.preview(json.dumps(collection))
    assert any("overlaps" in p["message"] for p in preview["problems"])
    before = gridflow.grids.export()
    with pytest.raises(DeployRefused):
        gridflow.grids.apply(user_id(gridflow, "admin"), json.dumps(collection))
    assert gridflow.grids.export() == before


# --- a second process sees an outline change without restart -------------------------------------


def test_an_outline_change_by_one_instance_is_seen_by_another(gridflow: Gridflow, database_url: str) -> None:
    other = Gridflow(Settings(database_url, clock=gridflow.clock))
    try:
        lon, lat = east_of(*centre(1, 1), 0)
        with other.sessions() as session:
            assert other.grids.grid_at(session, *OUTSIDE) is None  # its tree is built now
            assert other.grids.grid_at(session, lon, lat) == "01-01"
        # The administrator moves grid 01-01 out west, to a block where no grid was.
        collection = gridflow.grids.export()
        moved = next(f for f in collection["features"] if f["properties"]["code"] == "01-01")
        west = [(OUTSIDE[0] - 0.002, OUTSIDE[1] - 0.002), (OUTSIDE[0] + 0.002, OUTSIDE[1] - 0.002),
                (OUTSIDE[0] + 0.002, OUTSIDE[1] + 0.002), (OUTSIDE[0] - 0.002, OUTSIDE[1] + 0.002)]
        moved["geometry"] = feature("01-01", west)["geometry"]
        assert shape(moved["geometry"]).contains(shape({"type": "Point", "coordinates": list(OUTSIDE)}))
        gridflow.grids.apply(user_id(gridflow, "admin"), json.dumps(collection))
        with other.sessions() as session:
            assert other.grids.grid_at(session, *OUTSIDE) == "01-01"
            assert other.grids.grid_at(session, lon, lat) is None
    finally:
        other.close()


def test_only_an_administrator_changes_the_outlines(gridflow: Gridflow) -> None:
    text = json.dumps(gridflow.grids.export())
    with pytest.raises(Forbidden):
        gridflow.grids.apply(user_id(gridflow, "operator"), text)
