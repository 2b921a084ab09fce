"""Limits an attacker found open (issue 13): an extension's cap counted on the case's calendar,
durations of ASCII digits and a bounded length, calendar days written YYYY-MM-DD only, photos
whose pixels are counted before they are decoded and decoded whole, reference data no longer than
its column on either database, and a claimed task a conflict for everyone else of its lane."""
from __future__ import annotations

import io
import json
import struct
import threading
import zlib
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from engine import Gridflow
from engine.deadlines.calendar import BusinessCalendar, TimeLimit
from engine.errors import InvalidField
from engine.storage.models import AuditEvent, Case, CasePhoto, Task

from .conftest import Api, csrf, local, logged_in
from .test_reference_data import NEW_CATEGORY, NEW_DEPARTMENT, NEW_GRID, NEW_USER, NEW_ZONE, stored, user_id

# --- an extension's cap, counted as the deadline will be -----------------------------------------


def dispatched(api: Api, **report: Any) -> int:
    case_id = api.report("collector03", channel="collector", **report)["id"]
    api.complete("operator", case_id, "register", decision="register")
    department = "ZJJ" if report.get("category") == "SJ0401" else "JD03"
    api.complete("dispatcher", case_id, "dispatch", department=department)
    return case_id


def handle_due(api: Api, case_id: int, user: str = "jd03") -> datetime:
    return datetime.fromisoformat(api.task(user, case_id, "handle")["due_at"])


def extended(api: Api, extend_by: str, user: str = "jd03", **report: Any) -> datetime:
    """The handling deadline once the leader approved an extension by `extend_by`."""
    case_id = dispatched(api, **report)
    api.complete(user, case_id, "handle", action="extend", extend_by=extend_by, result="需协调")
    api.complete("leader", case_id, "approve_extension", approved=True, opinion="同意")
    return handle_due(api, case_id, user)


def test_an_extension_in_hours_is_capped_on_the_working_calendar(api: Api) -> None:
    """720 hours are 30 days of 24 hours but 96 working days: PT720H moved a deadline of
    2026-12-03 to 2027-04-23 where P30D gives 2027-01-15. The cap counts working hours as the
    deadline does: a working day is the office's 7.5 working hours."""
    case_id = dispatched(api)
    before = api.case(case_id)
    answer = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="PT720H", result="x")
    assert answer == {"field": "extend_by", "error": "must be at most P30D"}
    assert api.case(case_id) == before
    assert not api.has_task("leader", case_id)

    api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="PT225H1M", result="x")
    thirty_days = extended(api, "P30D")
    assert extended(api, "PT225H") == thirty_days  # 30 x 7.5 working hours: the cap itself
    assert extended(api, "P29DT7H30M") == thirty_days


def test_an_extension_in_hours_is_capped_on_the_natural_calendar(api: Api) -> None:
    """An emergency runs on natural time: there 720 hours are the 30 days."""
    case_id = dispatched(api, category="SJ0401")  # 路面塌陷, natural time
    answer = api.complete("zjj", case_id, "handle", expect=422, action="extend", extend_by="PT721H", result="x")
    assert answer["field"] == "extend_by"
    assert extended(api, "PT720H", user="zjj", category="SJ0401") == extended(
        api, "P30D", user="zjj", category="SJ0401"
    )


def test_a_limit_is_as_long_as_its_calendar_counts_it() -> None:
    calendar = BusinessCalendar()
    assert calendar.length("P1D") == 27000 == calendar.length("PT7H30M")  # 08:30-12:00, 13:30-17:30
    assert calendar.length("PT720H") == 96 * calendar.length("P1D")
    assert calendar.length("P1D", "natural") == 86400 == calendar.length("PT24H", "natural")


# --- durations: ASCII digits, a bounded number of them ------------------------------------------


@pytest.mark.parametrize("text", ["P１D", "P٢D", "PT１H", "P²D"])
def test_a_duration_is_written_in_ascii_digits(api: Api, text: str) -> None:
    case_id = dispatched(api)
    before = api.case(case_id)
    answer = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by=text, result="x")
    assert answer["field"] == "extend_by"
    assert answer["error"].startswith("not an ISO 8601 duration")
    assert api.case(case_id) == before


def test_a_duration_of_thousands_of_digits_is_refused_in_our_own_words(api: Api) -> None:
    case_id = dispatched(api)
    before = api.case(case_id)
    answer = api.complete(
        "jd03", case_id, "handle", expect=422, action="extend", extend_by="P" + "9" * 5000 + "D", result="x"
    )
    assert answer == {"field": "extend_by", "error": "a number in a duration has at most 9 digits"}
    assert api.case(case_id) == before
    with pytest.raises(ValueError, match="at most 9 digits"):
        TimeLimit.parse("PT0000000001H")  # counted as written, leading zeros too
    assert TimeLimit.parse("PT999999999S") == TimeLimit(days=0, seconds=999999999)
    answer = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="PT2592001S", result="x")
    assert answer == {"field": "extend_by", "error": "must be at most P30D"}


# --- calendar days: YYYY-MM-DD only ------------------------------------------------------------


@pytest.mark.parametrize("day", ["2030-W01-1", "20300101", "2030-001", "2030-1-1", "２０３０-01-01"])
def test_a_calendar_day_is_written_yyyy_mm_dd(api: Api, day: str) -> None:
    before = api.get("/api/calendar/days", "admin")
    answer = api.call("PUT", f"/api/calendar/days/{day}", "admin", expect=422, json={"kind": "holiday"})
    assert answer == {"field": "day", "error": "must be a date like 2027-02-20"}
    api.call("DELETE", f"/api/calendar/days/{day}", "admin", expect=422)
    assert api.get("/api/calendar/days", "admin") == before
    assert api.call("PUT", "/api/calendar/days/2029-12-31", "admin", json={"kind": "holiday"})["day"] == "2029-12-31"


# --- photos: pixels counted from the header, then decoded whole ---------------------------------


def png_declaring(width: int, height: int, image_data: bytes) -> bytes:
    """A PNG of 8-bit grey pixels whose header says width x height, with image_data as IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", image_data) + chunk(b"IEND", b"")


def black_png(side: int) -> bytes:
    """A real side x side black PNG, compressed a row at a time (never held whole)."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0 and black pixels
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return png_declaring(side, side, data)


def a_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def twelve_thousand_square() -> bytes:
    return black_png(12000)


def photo_refusals(bomb: bytes) -> list[tuple[str, bytes, str]]:
    return [
        ("20000x20000 declared in 48 KB", png_declaring(20000, 20000, bytes(48 * 1024)), "more than 40 megapixels"),
        ("12000x12000 that decodes", bomb, "more than 40 megapixels (12000x12000)"),
        ("image data that is not zlib", png_declaring(8, 8, b"these bytes are no zlib stream"), "not a JPEG or PNG"),
        ("image data cut short", png_declaring(64, 64, zlib.compress(bytes(65 * 64))[:10]), "not a JPEG or PNG"),
    ]


def test_a_photo_too_large_in_pixels_or_not_decoding_is_refused(
    gridflow: Gridflow, twelve_thousand_square: bytes
) -> None:
    assert len(twelve_thousand_square) < 5 * 1024 * 1024  # small enough for the byte limit
    for name, content, reason in photo_refusals(twelve_thousand_square):
        with pytest.raises(InvalidField) as refused:
            gridflow.photos.check([a_photo(), content])
        assert refused.value.field == "photos", name
        assert refused.value.reason.startswith("photo 2 ") and reason in refused.value.reason, (name, refused.value)
    assert gridflow.photos.check([a_photo()]) == [(a_photo(), "image/png")]


def test_the_report_page_refuses_such_photos_and_stores_nothing(
    app: Flask, gridflow: Gridflow, twelve_thousand_square: bytes
) -> None:
    collector = logged_in(app, "collector03")
    for name, content, reason in photo_refusals(twelve_thousand_square):
        token = csrf(collector.get("/report").get_data(as_text=True))
        form = {"csrf_token": token, "category": "SJ0502", "grid": "03-02", "description": "店外经营",
                "address": "人民路 18 号", "urgency": "normal", "channel": "collector",
                "photos": (io.BytesIO(content), "现场.png")}
        answer = collector.post("/report", data=form, content_type="multipart/form-data")
        assert answer.status_code == 422, name
        assert reason in answer.get_data(as_text=True), name
    with gridflow.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(CasePhoto)) == 0
    assert not gridflow.photos.directory.exists() or not any(gridflow.photos.directory.rglob("*"))


# --- reference data: no longer than its column, on both databases ------------------------------

LONG = "网" * 300
NOT_HELD = {"too long": LONG, "U+0000": "a\x00b", "a lone surrogate": "a\ud800b"}
ADDS: list[tuple[str, dict[str, Any], str]] = [
    *(("zone", NEW_ZONE, name) for name in ("code", "name")),
    *(("department", NEW_DEPARTMENT, name) for name in ("code", "name")),
    *(("grid", NEW_GRID | {"zone": "03", "territory_department": "JD03"}, name)
      for name in ("code", "name", "zone", "territory_department")),
    *(("category", NEW_CATEGORY, name) for name in ("code", "class_code", "class_name", "name", "owner_department")),
    *(("user", NEW_USER | {"zone": "03"}, name) for name in ("username", "display_name", "zone", "department")),
]


@pytest.mark.parametrize(("kind", "fields", "name"), ADDS, ids=[f"{k}.{n}" for k, _, n in ADDS])
@pytest.mark.parametrize("value", list(NOT_HELD.values()), ids=list(NOT_HELD))
def test_what_a_column_cannot_hold_is_refused_naming_the_field(
    gridflow: Gridflow, kind: str, fields: dict[str, Any], name: str, value: str
) -> None:
    before = stored(gridflow)
    with pytest.raises(InvalidField) as refused:
        getattr(gridflow.reference, f"add_{kind}")(user_id(gridflow, "admin"), fields | {name: value})
    assert refused.value.field == name, refused.value
    assert stored(gridflow) == before


@pytest.mark.parametrize("value", list(NOT_HELD.values()), ids=list(NOT_HELD))
def test_a_calendar_note_the_column_cannot_hold_is_refused(api: Api, value: str) -> None:
    before = api.get("/api/calendar/days", "admin")
    body = json.dumps({"kind": "holiday", "note": value})  # ASCII, as a client sends \ud800
    answer = api.call(
        "PUT", "/api/calendar/days/2030-01-02", "admin", expect=422, data=body, content_type="application/json"
    )
    assert answer["field"] == "note"
    assert api.get("/api/calendar/days", "admin") == before


def test_the_pages_show_a_too_long_value_beside_its_field(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    before = stored(gridflow)
    token = csrf(admin.get("/admin/reference/zones/new").get_data(as_text=True))
    answer = admin.post("/admin/reference/zones/new", data={"csrf_token": token, "code": "12", "name": LONG})
    assert answer.status_code == 422
    assert "must be at most 64 characters" in answer.get_data(as_text=True)
    token = csrf(admin.get("/admin/reference/calendar").get_data(as_text=True))
    answer = admin.post(
        "/admin/reference/calendar", data={"csrf_token": token, "day": "2030-01-02", "kind": "holiday", "note": LONG}
    )
    assert answer.status_code == 422
    assert "must be at most 128 characters" in answer.get_data(as_text=True)
    assert admin.get(f"/admin/reference/zones/{LONG}/edit").status_code == 404
    assert stored(gridflow) == before


# --- a claimed task: one gets it, everyone else of the lane is late -----------------------------

OPERATORS = [f"operator{n:02d}" for n in range(20)]


def operators(gridflow: Gridflow) -> None:
    admin = user_id(gridflow, "admin")
    for username in OPERATORS:
        gridflow.reference.add_user(
            admin, NEW_USER | {"username": username, "zone": "", "roles": ["operator"], "password": "受理案件-2026"}
        )


def token_of(api: Api, username: str) -> str:
    answer = api.client.post("/api/login", json={"username": username, "password": "受理案件-2026"})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["token"]


def claims(gridflow: Gridflow) -> int:
    with gridflow.sessions() as session:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "claim")
        return session.scalar(query) or 0


def test_twenty_claiming_one_task_after_another_get_one_200_and_nineteen_409(gridflow: Gridflow, api: Api) -> None:
    operators(gridflow)
    case_id = api.report("collector03", channel="collector")["id"]
    register = api.task("operator", case_id, "register")
    statuses = []
    for username in OPERATORS:
        headers = {"Authorization": f"Bearer {token_of(api, username)}"}
        statuses.append(api.client.post(f"/api/tasks/{register['id']}/claim", headers=headers).status_code)
    assert statuses == [200] + [409] * 19
    assert claims(gridflow) == 1
    # someone outside the lane is still shut out, not late
    assert api.call("POST", f"/api/tasks/{register['id']}/claim", "dispatcher", expect=403)["error"]


def test_twenty_claiming_one_task_at_once_get_one_200_and_nineteen_409(
    app: Flask, gridflow: Gridflow, api: Api
) -> None:
    operators(gridflow)
    case_id = api.report("collector03", channel="collector")["id"]
    register = api.task("operator", case_id, "register")
    tokens = [token_of(api, username) for username in OPERATORS]
    ready = threading.Barrier(len(tokens), timeout=30)
    statuses: list[int] = []

    def claim(token: str) -> None:
        client = app.test_client()
        ready.wait()
        answer = client.post(f"/api/tasks/{register['id']}/claim", headers={"Authorization": f"Bearer {token}"})
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=claim, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 19
    assert claims(gridflow) == 1
    with gridflow.sessions() as session:
        assert session.get(Task, register["id"]).assignee_id is not None  # type: ignore[union-attr]


def test_a_deadline_example_from_the_finding(api: Api, clock: Any) -> None:
    """The finding's own numbers: a handling deadline of Thursday 2026-12-03 09:00."""
    clock.set(local("2026-12-02 09:00"))
    case_id = dispatched(api)
    assert handle_due(api, case_id) == local("2026-12-03 09:00")
    answer = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="PT720H", result="x")
    assert answer["field"] == "extend_by"
    api.complete("jd03", case_id, "handle", action="extend", extend_by="P30D", result="需协调")
    api.complete("leader", case_id, "approve_extension", approved=True, opinion="同意")
    assert handle_due(api, case_id) == local("2027-01-15 09:00")
