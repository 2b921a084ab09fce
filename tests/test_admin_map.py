"""The administrator's map pages: grid outlines exported, previewed with every problem named per
feature and applied only when there is none (reaching a second process with no restart); the
component census imported from CSV with refused rows named by line, from the page and from the
command line; a component's page with the cases about it."""
from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock

from .browser import Office
from .conftest import csrf, logged_in, user_id
from .test_cli import run_app

# Far from the demo town's blocks: a new grid here overlaps none of them.
NEW_GRID = {
    "type": "Feature",
    "properties": {"code": "01-09", "name": "01网区9号网格", "zone": "01"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[118.90, 35.25], [118.905, 35.25], [118.905, 35.255], [118.90, 35.255], [118.90, 35.25]]],
    },
}
INSIDE_NEW_GRID = (118.9025, 35.2525)  # lon, lat
BOW_TIE = {"type": "Polygon", "coordinates": [[[118.80, 35.10], [118.81, 35.11], [118.81, 35.10], [118.80, 35.11],
                                                [118.80, 35.10]]]}


def upload(client: FlaskClient, path: str, content: bytes, name: str, **fields: str) -> Any:
    page = client.get("/admin/map/grids" if "grids" in path else "/admin/map/components").get_data(as_text=True)
    data: dict[str, Any] = {"csrf_token": csrf(page), "file": (io.BytesIO(content), name)} | fields
    return client.post(path, data=data, content_type="multipart/form-data")


def stored_outlines(gridflow: Gridflow) -> str:
    return json.dumps(gridflow.grids.export(), sort_keys=True)


def broken(collection: dict[str, Any]) -> dict[str, Any]:
    """The demo's outlines with four mistakes: a bow-tie (feature 1), an unknown zone (2), a code
    twice (4 repeats 3's) and a new grid drawn over an existing one (the last feature)."""
    collection = copy.deepcopy(collection)
    features = collection["features"]
    features[0]["geometry"] = BOW_TIE
    features[1]["properties"]["zone"] = "99"
    features[3]["properties"]["code"] = features[2]["properties"]["code"]
    over = copy.deepcopy(features[5])
    over["properties"]["code"] = "01-08"
    features.append(over)
    return collection


def expected_problems(collection: dict[str, Any]) -> dict[int, str]:
    """Feature number -> code the preview must name. The overlap is named on the first of the
    two grids (feature 6), its message naming the new one's feature."""
    features = collection["features"]
    return {1: features[0]["properties"]["code"], 4: features[3]["properties"]["code"],
            6: features[5]["properties"]["code"]}


UNKNOWN_ZONE = "01-02"  # feature 2; the engine numbers database-found problems among the readable
# outlines only (here 1, after the skipped bow-tie): the row is found by its code


def test_export_round_trip_changes_nothing(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    answer = admin.get("/admin/map/grids.geojson")
    assert answer.status_code == 200
    assert answer.mimetype == "application/geo+json"
    assert "attachment" in answer.headers["Content-Disposition"]
    exported = answer.get_data()
    assert len(json.loads(exported)["features"]) == 33
    before = stored_outlines(gridflow)

    preview = upload(admin, "/admin/map/grids/preview", exported, "grids.geojson")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    page = preview.get_data(as_text=True)
    assert 'id="problems"' not in page and 'id="outline-apply"' in page
    applied = admin.post("/admin/map/grids/apply", data={"csrf_token": csrf(page), "digest": _digest(page)})
    assert applied.status_code == 302
    assert stored_outlines(gridflow) == before
    assert "网格边界已更新：新增 0，修改 0，移除 0" in admin.get("/admin/map/grids").get_data(as_text=True)


def test_a_broken_import_names_each_feature_and_changes_nothing(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    collection = broken(gridflow.grids.export())
    before = stored_outlines(gridflow)
    answer = upload(admin, "/admin/map/grids/preview", json.dumps(collection).encode(), "broken.geojson")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="outline-apply"' not in page  # no apply button while a problem remains
    for feature, code in expected_problems(collection).items():
        assert f'data-feature="{feature}" data-code="{code}"' in page, (feature, code)
    assert f'data-code="{UNKNOWN_ZONE}"' in page and "unknown zone &#39;99&#39;" in page
    assert "Self-intersection" in page and "also feature 3" in page and "overlaps grid 01-08 (feature 34)" in page
    # An apply naming that upload anyway (a hand-made post) is checked again and refused.
    digest = _uploaded_digest(app)
    again = admin.post("/admin/map/grids/apply", data={"csrf_token": csrf(page), "digest": digest})
    assert again.status_code == 422 and 'id="problems"' in again.get_data(as_text=True)
    assert stored_outlines(gridflow) == before


def test_apply_refuses_an_unknown_or_forged_digest(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    token = csrf(admin.get("/admin/map/grids").get_data(as_text=True))
    before = stored_outlines(gridflow)
    for digest in ("0" * 64, "../../gridflow.db", ""):
        answer = admin.post("/admin/map/grids/apply", data={"csrf_token": token, "digest": digest})
        assert answer.status_code == 422 and 'id="error-digest"' in answer.get_data(as_text=True)
    empty = upload(admin, "/admin/map/grids/preview", b"", "empty.geojson")
    assert empty.status_code == 422 and 'id="error-file"' in empty.get_data(as_text=True)
    not_text = upload(admin, "/admin/map/grids/preview", b"\xff\xfe{", "bad.geojson")
    assert not_text.status_code == 422 and 'id="error-file"' in not_text.get_data(as_text=True)
    assert stored_outlines(gridflow) == before


def test_a_good_import_reaches_a_second_process_without_restart(
    app: Flask, gridflow: Gridflow, database_url: str, clock: ManualClock
) -> None:
    other = Gridflow(Settings(database_url, clock=clock))  # another worker process's view
    try:
        with other.sessions() as session:
            assert other.grids.grid_at(session, *INSIDE_NEW_GRID) is None  # its tree is built now
        collection = gridflow.grids.export()
        collection["features"].append(NEW_GRID)
        admin = logged_in(app, "admin")
        preview = upload(admin, "/admin/map/grids/preview", json.dumps(collection).encode(), "grids.geojson")
        page = preview.get_data(as_text=True)
        assert preview.status_code == 200 and 'data-code="01-09"' in page
        applied = admin.post("/admin/map/grids/apply", data={"csrf_token": csrf(page), "digest": _digest(page)})
        assert applied.status_code == 302
        with other.sessions() as session:
            assert other.grids.grid_at(session, *INSIDE_NEW_GRID) == "01-09"
        assert "新增 1" in admin.get("/admin/map/grids").get_data(as_text=True)
    finally:
        other.close()


def test_only_administrators_reach_the_map_administration(app: Flask, gridflow: Gridflow) -> None:
    operator = logged_in(app, "operator")
    for path in ("/admin/map/grids", "/admin/map/grids.geojson", "/admin/map/components"):
        assert operator.get(path).status_code == 403, path
    token = csrf(operator.get("/").get_data(as_text=True))
    data = {"csrf_token": token, "file": (io.BytesIO(b"code,category,owner,state,x,y\n"), "c.csv")}
    assert operator.post("/admin/map/components", data=data, content_type="multipart/form-data").status_code == 403
    assert app.test_client().get("/admin/map/grids").status_code == 302  # strangers log in first


CENSUS = (
    "code,category,owner,state,x,y\n"
    "JG-0001,BJ0101,ZJJ,normal,118.8200,35.1770\n"
    "JG-0002,BJ0101,,damaged,118.8210,35.1771\n"
    "JG-0003,XX9999,ZJJ,normal,118.8200,35.1770\n"  # line 4: an unknown category
    "JG-0004,BJ0101,ZJJ,normal,east,35.1770\n"  # line 5: no longitude
    "JG-0001,BJ0101,ZJJ,normal,118.8200,35.1770\n"  # line 6: the code again
)


def test_census_csv_import_names_refused_rows_by_line(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    answer = upload(admin, "/admin/map/components", CENSUS.encode(), "census.csv")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert '<strong id="imported">2</strong>' in page and '<strong id="refused-count">3</strong>' in page
    for line, reason in ((4, "unknown 部件 category"), (5, "x and y must be"), (6, "appears twice")):
        assert f'<tr data-line="{line}">' in page and reason in page
    assert gridflow.components.component("JG-0002")["state"] == "damaged"
    wrong = upload(admin, "/admin/map/components", b"name,where\nx,y\n", "wrong.csv")
    assert wrong.status_code == 422 and 'id="error-file"' in wrong.get_data(as_text=True)


def test_census_geojson_import(app: Flask, gridflow: Gridflow) -> None:
    points = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [118.82, 35.177]},
         "properties": {"code": "JG-0100", "category": "BJ0102", "owner": "ZJJ"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [118.82, 35.177]},
         "properties": {"code": "JG-0101", "category": "BJ0102", "owner": "NOBODY"}},
    ]}
    page = upload(logged_in(app, "admin"), "/admin/map/components", json.dumps(points).encode(), "c.geojson")
    text = page.get_data(as_text=True)
    assert '<strong id="imported">1</strong>' in text and '<tr data-line="2">' in text and "NOBODY" in text


def test_a_components_page_lists_its_cases(app: Flask, gridflow: Gridflow) -> None:
    # BJ0101-01011 is a demo 上水井盖 owned by ZJJ, in grid 01-01.
    report = {"category": "BJ0101", "description": "井盖破损", "address": "人民路", "urgency": "normal",
              "channel": "collector", "lat": 35.176413, "long": 118.821658, "component": "BJ0101-01011"}
    case_id = gridflow.runtime.report_case(user_id(gridflow, "collector01"), report)
    operator = logged_in(app, "operator")
    answer = operator.get("/components/BJ0101-01011")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert f'href="/cases/{case_id}"' in page
    assert "上水井盖" in page and "ZJJ" in page and 'id="component-map"' in page
    assert 'id="no-cases"' in operator.get("/components/BJ0102-01012").get_data(as_text=True)
    assert operator.get("/components/NO-SUCH").status_code == 404
    department = logged_in(app, "jd03").get("/components/BJ0101-01011")  # a department may open it ...
    assert department.status_code == 200
    assert f'href="/cases/{case_id}"' not in department.get_data(as_text=True)  # ... not read zone 01's case


def test_the_map_pages_in_chromium_name_a_broken_feature_and_change_nothing(
    office: Office, app_of_server: Gridflow, tmp_path: Path
) -> None:
    gridflow = app_of_server
    before = stored_outlines(gridflow)
    collection = broken(gridflow.grids.export())
    page = office.person("admin")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # the map script ran, CSP let it
    page.on("console", lambda message: errors.append(message.text) if "Content Security" in message.text else None)
    page.goto(f"{office.base}/admin/map/grids")
    expect(page.locator("#grid-map")).to_have_attribute("data-ready", "true")
    expect(page.locator("#grid-map path.leaflet-interactive")).to_have_count(33)
    page.set_input_files(
        "input[name=file]",
        {"name": "broken.geojson", "mimeType": "application/geo+json", "buffer": json.dumps(collection).encode()},
    )
    page.click("#outline-upload button[type=submit]")
    expect(page.locator("#problems")).to_be_visible()
    for feature, code in expected_problems(collection).items():
        expect(page.locator(f"tr.problem[data-feature='{feature}'][data-code='{code}']")).to_have_count(1)
    expect(page.locator(f"tr.problem[data-code='{UNKNOWN_ZONE}']")).to_contain_text("unknown zone")
    expect(page.locator("#outline-apply")).to_have_count(0)
    expect(page.locator("#grid-map")).to_have_attribute("data-ready", "true")
    assert errors == []
    assert stored_outlines(gridflow) == before


def test_import_components_from_the_command_line_prints_progress(tmp_path: Path) -> None:
    assert run_app(tmp_path, "init", "--demo").returncode == 0
    rows = [f"CLI-{n:05d},BJ0101,ZJJ,normal,{118.81 + n * 1e-6:.6f},35.1770" for n in range(12_000)]
    rows[9] = "CLI-X,BJ0101,ZJJ,normal,east,35.1770"  # line 11
    census = tmp_path / "census.csv"
    census.write_text("code,category,owner,state,x,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    done = run_app(tmp_path, "import-components", str(census), "--admin", "admin")
    assert done.returncode == 0, done.stderr
    assert "imported 5000 rows" in done.stdout and "imported 10000 rows" in done.stdout
    assert done.stdout.count("imported 11999 rows") == 1
    assert "refused line 11 CLI-X" in done.stdout
    assert "Imported 11999 components, refused 1 rows." in done.stdout
    nobody = run_app(tmp_path, "import-components", str(census), "--admin", "nobody")
    assert nobody.returncode == 2


def _digest(page: str) -> str:
    start = page.index('name="digest" value="') + len('name="digest" value="')
    return page[start : start + 64]


def _uploaded_digest(app: Flask) -> str:
    [path] = (Path(app.instance_path) / "grid-outline-uploads").glob("*.geojson")
    return path.stem


def test_the_map_administration_speaks_english(app: Flask) -> None:
    admin = logged_in(app, "admin")
    admin.get("/language/en")
    page = admin.get("/admin/map/grids").get_data(as_text=True)
    assert "Grid outlines" in page and "Export GeoJSON" in page and "Component census" in page
    assert "网格边界" not in page


def test_a_citizen_account_does_not_read_a_components_page(app: Flask, gridflow: Gridflow) -> None:
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": "open311", "password": "demo", "csrf_token": token})
    assert answer.status_code == 302  # the outside client's account may log in, but not read the office's objects
    assert client.get("/components/BJ0101-01011").status_code == 403
