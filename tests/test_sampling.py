"""每月网格抽查: the monthly draw of grids is random, recorded with its seed and re-done by anyone;
each drawn grid gets one inspection with its photos; every change is in the audit trail. On a
real database (SQLite and PostgreSQL) and through the pages with CSRF on."""
from __future__ import annotations

import ast
import contextlib
import hashlib
import html
import io
import re
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from PIL import Image
from sqlalchemy import select

from engine import Gridflow
from engine.assessment.sampling import draw_grids
from engine.deadlines.clock import ManualClock
from engine.errors import Conflict, Forbidden, InvalidField, NotFound
from engine.storage.models import AuditEvent, Base, Grid, GridInspection, User
from web import create_app

from .conftest import csrf, local, logged_in

SAMPLING_TABLES = {"sampling_draw", "grid_inspection", "grid_inspection_photo"}


def user_id(gridflow: Gridflow, username: str) -> int:
    with gridflow.sessions() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None, username
        return found


def every_grid(gridflow: Gridflow) -> list[str]:
    with gridflow.sessions() as session:
        return sorted(session.scalars(select(Grid.code)))


def png(colour: tuple[int, int, int] = (200, 50, 30)) -> bytes:
    """A real PNG image, made here (no fixture files)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    return buffer.getvalue()


def audit(gridflow: Gridflow, action: str) -> list[AuditEvent]:
    with gridflow.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- the draw -------------------------------------------------------------------------------


def test_a_draw_is_eleven_distinct_grids_of_33_and_is_redone_from_its_seed(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    drawn = gridflow.sampling.draw("2026-11", assessor, seed=20261125)

    grids = every_grid(gridflow)
    assert len(grids) == 33
    assert drawn["month"] == "2026-11" and drawn["seed"] == 20261125 and drawn["count"] == 11
    assert len(drawn["grids"]) == len(set(drawn["grids"])) == 11
    assert set(drawn["grids"]) <= set(grids)
    assert drawn["population"] == grids
    # Anyone can re-do it with the standard library alone: a Fisher-Yates shuffle on random().
    import random

    generator, shuffled = random.Random(20261125), sorted(grids)
    for last in range(len(shuffled) - 1, 0, -1):
        other = int(generator.random() * (last + 1))
        shuffled[last], shuffled[other] = shuffled[other], shuffled[last]
    assert drawn["grids"] == shuffled[:11]
    assert draw_grids(20261125, list(reversed(grids)), 11) == drawn["grids"]  # the list is sorted first

    check = gridflow.sampling.verify(gridflow.sampling.draw_of("2026-11", assessor))
    assert check["matches"] and check["recomputed"] == drawn["grids"]
    redone = gridflow.sampling.redraw("2026-11", assessor)
    assert redone["matches"] and redone["grids_unchanged"]
    # A record whose grids were changed by hand does not verify.
    swapped = drawn | {"grids": [*drawn["grids"][:-1], next(g for g in grids if g not in drawn["grids"])]}
    assert not gridflow.sampling.verify(swapped)["matches"]


def test_the_same_seed_draws_the_same_grids_in_another_month(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    october = gridflow.sampling.draw("2026-10", assessor, seed=7)
    november = gridflow.sampling.draw("2026-11", assessor, seed=7)
    assert october["grids"] == november["grids"]
    assert gridflow.sampling.draw_of("2026-11", assessor)["seed"] == 7


def test_without_a_seed_one_is_generated_and_recorded(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    drawn = gridflow.sampling.draw("2026-11", assessor)
    assert 0 <= drawn["seed"] < 2**64
    assert drawn["grids"] == draw_grids(drawn["seed"], every_grid(gridflow), 11)
    assert gridflow.sampling.redraw("2026-11", assessor)["matches"]


def test_the_count_comes_from_the_configuration(database_url: str, clock: ManualClock, tmp_path: Path) -> None:
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "SECRET_KEY": "test",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PHOTO_DIR": str(tmp_path / "photos"),
            "SAMPLING_COUNT": 5,
        }
    )
    gridflow: Gridflow = app.extensions["gridflow"]
    try:
        drawn = gridflow.sampling.draw("2026-11", user_id(gridflow, "assessor"), seed=1)
        assert drawn["count"] == 5 and len(set(drawn["grids"])) == 5
    finally:
        gridflow.close()


def test_a_count_beyond_the_grids_or_a_bad_seed_is_refused(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    with pytest.raises(InvalidField) as error:
        gridflow.sampling.draw("2026-11", assessor, seed=1, count=34)
    assert error.value.field == "count"
    for seed in (-1, 2**64):
        with pytest.raises(InvalidField) as error:
            gridflow.sampling.draw("2026-11", assessor, seed=seed)
        assert error.value.field == "seed"
    assert gridflow.sampling.draw("2026-11", assessor, seed=2**64 - 1)["seed"] == 2**64 - 1  # the largest fits


def test_a_month_is_drawn_once_and_only_once_it_has_come(gridflow: Gridflow, clock: ManualClock) -> None:
    assessor = user_id(gridflow, "assessor")
    first = gridflow.sampling.draw("2026-11", assessor, seed=1)
    with pytest.raises(Conflict):
        gridflow.sampling.draw("2026-11", user_id(gridflow, "admin"), seed=2)
    assert gridflow.sampling.draw_of("2026-11", assessor)["grids"] == first["grids"]
    for month in ("2026-12", "2026-13", "2026-1", "november"):
        with pytest.raises(InvalidField) as error:
            gridflow.sampling.draw(month, assessor)
        assert error.value.field == "month"
    # The month is the office's: 1 December 00:30 in Beijing is still 30 November in UTC.
    clock.set(local("2026-12-01 00:30"))
    assert gridflow.sampling.current_month() == "2026-12"
    assert gridflow.sampling.draw("2026-12", assessor)["month"] == "2026-12"
    assert [d["month"] for d in gridflow.sampling.draws(assessor)] == ["2026-12", "2026-11"]


def test_two_assessors_drawing_the_same_month_at_once_make_one_draw(gridflow: Gridflow) -> None:
    people = [user_id(gridflow, "assessor"), user_id(gridflow, "admin")]
    start = threading.Barrier(len(people))
    outcomes: list[str] = []

    def draw(person: int) -> None:
        start.wait(timeout=10)
        try:
            gridflow.sampling.draw("2026-11", person)
            outcomes.append("drawn")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=draw, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "drawn"]
    assert len(audit(gridflow, "sampling_draw")) == 1


# --- the inspections ------------------------------------------------------------------------


def test_only_a_drawn_grid_is_inspected_and_each_field_is_checked(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    drawn = gridflow.sampling.draw("2026-11", assessor, seed=3)
    not_drawn = next(g for g in every_grid(gridflow) if g not in drawn["grids"])
    grid = drawn["grids"][0]

    def refused(field: str, **changes: Any) -> None:
        fields: dict[str, Any] = {"grid": grid, "passed": True, "problems": 0, "notes": ""} | changes
        with pytest.raises(InvalidField) as error:
            gridflow.sampling.record_inspection("2026-11", inspector_user_id=assessor, **fields)
        assert error.value.field == field, error.value

    refused("grid", grid=not_drawn)
    refused("passed", passed=None)
    refused("passed", passed="true")
    refused("problems", problems=-1)
    refused("problems", problems="3")
    refused("problems", passed=False, problems=0)  # a failed grid has something to show for it
    refused("notes", notes="记" * 2001)
    refused("photos", photos=[b"\x89PNG\r\n\x1a\n not really"])
    with pytest.raises(NotFound):
        gridflow.sampling.record_inspection("2026-10", grid, assessor, True, 0, "")
    assert gridflow.sampling.draw_of("2026-11", assessor)["inspections"] == {}
    assert audit(gridflow, "grid_inspection") == []


def test_an_inspection_keeps_its_photos_under_their_hash_and_is_recorded_once(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    grid = gridflow.sampling.draw("2026-11", assessor, seed=4)["grids"][0]
    photo = png()
    sha256 = hashlib.sha256(photo).hexdigest()

    inspection = gridflow.sampling.record_inspection(
        "2026-11", grid, assessor, passed=False, problems=3, notes="  垃圾桶满溢，店外经营两处  ", photos=[photo]
    )
    assert inspection["photos"] == [{"sha256": sha256, "content_type": "image/png", "size": len(photo)}]
    assert inspection["notes"] == "垃圾桶满溢，店外经营两处" and inspection["inspected_by"] == "assessor"
    assert gridflow.photos.path(sha256).read_bytes() == photo
    assert gridflow.sampling.photo(sha256, user_id(gridflow, "leader")) == (sha256, "image/png")

    with pytest.raises(Conflict):
        gridflow.sampling.record_inspection("2026-11", grid, user_id(gridflow, "admin"), True, 0, "复查合格")
    kept = gridflow.sampling.draw_of("2026-11", assessor)
    assert kept["inspections"][grid]["passed"] is False and kept["inspected"] == 1 and kept["failed"] == 1


def test_only_assessors_and_administrators_draw_and_record_leaders_read(gridflow: Gridflow) -> None:
    assessor, admin, leader = (user_id(gridflow, name) for name in ("assessor", "admin", "leader"))
    for outsider in ("leader", "collector03", "operator", "cgj"):
        with pytest.raises(Forbidden):
            gridflow.sampling.draw("2026-11", user_id(gridflow, outsider))
    grid = gridflow.sampling.draw("2026-11", admin, seed=5)["grids"][0]
    with pytest.raises(Forbidden):
        gridflow.sampling.record_inspection("2026-11", grid, leader, True, 0, "")
    gridflow.sampling.record_inspection("2026-11", grid, assessor, True, 0, "", photos=[png()])

    assert gridflow.sampling.draws(leader)[0]["inspections"][grid]["passed"] is True
    assert gridflow.sampling.redraw("2026-11", leader)["matches"]
    collector = user_id(gridflow, "collector03")
    for read in (
        lambda: gridflow.sampling.draws(collector),
        lambda: gridflow.sampling.draw_of("2026-11", collector),
        lambda: gridflow.sampling.redraw("2026-11", collector),
        lambda: gridflow.sampling.photo(hashlib.sha256(png()).hexdigest(), collector),
    ):
        with pytest.raises(Forbidden):
            read()


def test_every_draw_and_inspection_is_an_audit_event(gridflow: Gridflow, clock: ManualClock) -> None:
    assessor = user_id(gridflow, "assessor")
    drawn = gridflow.sampling.draw("2026-11", assessor, seed=6)
    clock.set(local("2026-11-26 10:00"))
    gridflow.sampling.record_inspection("2026-11", drawn["grids"][1], assessor, False, 2, "井盖缺失", [png()])

    (draw_event,) = audit(gridflow, "sampling_draw")
    assert draw_event.actor == "assessor" and draw_event.at == local("2026-11-25 09:00")
    assert draw_event.detail == {
        "month": "2026-11", "seed": "6", "seed_typed": True, "count": 11, "grids": drawn["grids"]
    }
    (inspection_event,) = audit(gridflow, "grid_inspection")
    assert inspection_event.actor == "assessor" and inspection_event.at == local("2026-11-26 10:00")
    assert inspection_event.detail == {
        "month": "2026-11",
        "grid": drawn["grids"][1],
        "passed": False,
        "problems": 2,
        "notes": "井盖缺失",
        "photos": [hashlib.sha256(png()).hexdigest()],
    }


def test_inspections_add_up_per_grid_over_the_months_of_a_period(gridflow: Gridflow) -> None:
    assessor = user_id(gridflow, "assessor")
    october = gridflow.sampling.draw("2026-10", assessor, seed=10)["grids"]
    november = gridflow.sampling.draw("2026-11", assessor, seed=11)["grids"]
    both = sorted(set(october) & set(november))
    assert both, "the seeds were chosen so that one grid is drawn in both months"
    shared = both[0]
    only_october = next(g for g in october if g not in november)
    gridflow.sampling.record_inspection("2026-10", shared, assessor, False, 4, "")
    gridflow.sampling.record_inspection("2026-10", only_october, assessor, True, 1, "")
    gridflow.sampling.record_inspection("2026-11", shared, assessor, False, 2, "")

    november_rows = {r["grid"]: r for r in gridflow.sampling.inspections(date(2026, 11, 1), date(2026, 12, 1))}
    assert set(november_rows) == set(november)
    assert november_rows[shared] == {"grid": shared, "drawn": 1, "inspected": 1, "failed": 1, "problems": 2}
    untouched = next(g for g in november if g != shared)
    assert november_rows[untouched] == {"grid": untouched, "drawn": 1, "inspected": 0, "failed": 0, "problems": 0}
    # An inclusive last day gives the same months as the first day after.
    assert gridflow.sampling.inspections(date(2026, 11, 1), date(2026, 11, 30)) == list(november_rows.values())

    quarter = {r["grid"]: r for r in gridflow.sampling.inspections(date(2026, 10, 1), date(2027, 1, 1))}
    assert set(quarter) == set(october) | set(november)
    assert quarter[shared] == {"grid": shared, "drawn": 2, "inspected": 2, "failed": 2, "problems": 6}
    assert quarter[only_october] == {"grid": only_october, "drawn": 1, "inspected": 1, "failed": 0, "problems": 1}
    assert gridflow.sampling.inspections(date(2026, 9, 1), date(2026, 10, 1)) == []


def test_the_migration_makes_the_tables_the_models_describe(gridflow: Gridflow) -> None:
    with gridflow.db.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    def table_of(difference: Any) -> str | None:
        first = difference[0] if isinstance(difference, list) else difference
        for part in first[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(getattr(part, "table", None), "name", None)
            if table in SAMPLING_TABLES or name in SAMPLING_TABLES:
                return table or name
        return None

    assert [d for d in differences if table_of(d)] == []
    with gridflow.sessions() as session:
        assert session.scalar(select(GridInspection.id).limit(1)) is None


# --- the pages ------------------------------------------------------------------------------


def test_the_pages_draw_check_and_record_an_inspection(app: Flask, gridflow: Gridflow) -> None:
    assessor = logged_in(app, "assessor")
    page = assessor.get("/assessment/sampling/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="draw-form"' in text and "尚无抽查记录" in text

    refused = assessor.post("/assessment/sampling/draw", data={"seed": "十二", "csrf_token": csrf(text)})
    assert refused.status_code == 422
    assert 'id="error-seed"' in refused.get_data(as_text=True)
    assert gridflow.sampling.draws(user_id(gridflow, "assessor")) == []
    without_token = assessor.post("/assessment/sampling/draw", data={"seed": "42"})
    assert without_token.status_code == 400

    drawn = assessor.post("/assessment/sampling/draw", data={"seed": "42", "csrf_token": csrf(text)})
    assert drawn.status_code == 302
    text = assessor.get("/assessment/sampling/").get_data(as_text=True)
    grids = draw_grids(42, every_grid(gridflow), 11)
    assert 'id="draw-form"' not in text and '<dd class="seed">42</dd>' in text
    assert re.findall(r'class="sampled-grid" data-grid="([^"]+)" data-state="open"', text) == sorted(grids)

    checked = assessor.get("/assessment/sampling/2026-11/verify").get_data(as_text=True)
    assert 'data-matches="true"' in checked and "核验一致" in checked
    method = re.search(r'class="draw-method">.*?<code>(.*?)</code>', checked, re.S)
    assert method, "the verification prints its method"
    printed = html.unescape(method[1])
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(printed, {})  # what an outsider does: run the printed method with Python alone
    assert ast.literal_eval(output.getvalue()) == grids

    grid = grids[0]
    form_url = f"/assessment/sampling/2026-11/grids/{grid}"
    form_page = assessor.get(form_url).get_data(as_text=True)
    assert 'id="inspection-form"' in form_page
    missing = assessor.post(form_url, data={"problems": "2", "notes": "x", "csrf_token": csrf(form_page)})
    assert missing.status_code == 422 and 'id="error-passed"' in missing.get_data(as_text=True)
    recorded = assessor.post(
        form_url,
        data={
            "passed": "false",
            "problems": "2",
            "notes": "绿化带垃圾",
            "photos": (io.BytesIO(png()), "现场.png"),
            "csrf_token": csrf(form_page),
        },
        content_type="multipart/form-data",
    )
    assert recorded.status_code == 302
    assert f'data-grid="{grid}" data-state="failed"' in assessor.get("/assessment/sampling/").get_data(as_text=True)
    assert assessor.get(f"/assessment/sampling/2026-11/grids/{grids[-1] + 'x'}").status_code == 404

    leader = logged_in(app, "leader")
    view = leader.get(form_url).get_data(as_text=True)
    assert 'data-passed="false"' in view and "绿化带垃圾" in view and 'id="inspection-form"' not in view
    assert 'id="draw-form"' not in leader.get("/assessment/sampling/").get_data(as_text=True)
    image = leader.get(f"/assessment/sampling/photos/{hashlib.sha256(png()).hexdigest()}")
    assert image.status_code == 200 and image.data == png()
    assert image.headers["X-Content-Type-Options"] == "nosniff" and image.mimetype == "image/png"

    collector = logged_in(app, "collector03")
    forbidden = collector.get("/assessment/sampling/")
    assert forbidden.status_code == 403 and 'id="forbidden"' in forbidden.get_data(as_text=True)
