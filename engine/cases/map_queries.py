"""一张图: the open cases on the map as GeoJSON, per-grid counts for a choropleth, and the open
cases near a point (a possible duplicate of a new report). Scoped exactly as case reads are."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InvalidField
from ..geo import GridMap, metres_between
from ..storage import Case, Category, Department, Task
from ..vocabulary import URGENCIES
from .queries import _reader, readable_by

MAP_LIMIT_MAX = 5000  # markers in one answer: a page asks for the next with offset
DEADLINE_STATES = ("normal", "warning", "overdue")  # worst last
MEASURES = ("reports", "overdue")
NEAR_CASES_M = 50.0  # open cases this close to a new report are shown as possible duplicates
METRES_PER_DEGREE = 111_195.0


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """minLon,minLat,maxLon,maxLat in WGS84 degrees."""
    parts = text.split(",")
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InvalidField("bbox", "must be minLon,minLat,maxLon,maxLat (four numbers)")
    min_lon, min_lat, max_lon, max_lat = box
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidField("bbox", "must have minLon <= maxLon within -180..180 and minLat <= maxLat within -90..90")
    return min_lon, min_lat, max_lon, max_lat


YEARS = (1970, 9998)  # beyond these a period is a typing error, and year 1 overflows UTC


def parse_period(text: str) -> tuple[date, date] | None:
    """[start, end) of a period: YYYY-MM (a month), YYYY-Qn (a quarter), YYYY (a year) or
    YYYY-MM-DD/YYYY-MM-DD (both days included); empty: no limit."""
    text = text.strip()
    if not text:
        return None
    try:
        if m := re.fullmatch(r"([0-9]{4})", text):
            year = _year(m[1])
            return date(year, 1, 1), date(year + 1, 1, 1)
        if m := re.fullmatch(r"([0-9]{4})-Q([1-4])", text):
            year, quarter = _year(m[1]), int(m[2])
            return date(year, 3 * quarter - 2, 1), _month_start(year, 3 * quarter + 1)
        if m := re.fullmatch(r"([0-9]{4})-([0-9]{2})", text):
            year, month = _year(m[1]), int(m[2])
            return date(year, month, 1), _month_start(year, month + 1)
        if m := re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})/([0-9]{4}-[0-9]{2}-[0-9]{2})", text):
            start, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if start <= last and YEARS[0] <= start.year and last.year <= YEARS[1]:
                return start, last + timedelta(days=1)
            raise ValueError(text)
    except ValueError:
        pass
    raise InvalidField("period", "must be YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD/YYYY-MM-DD (first to last day)")


def _year(digits: str) -> int:
    year = int(digits)
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(digits)
    return year


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


class CaseMap:
    def __init__(self, sessions: sessionmaker[Session], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz

    def cases(
        self,
        reader_id: int,
        bbox: tuple[float, float, float, float],
        status: str | None = None,
        category: str | None = None,
        department: str | None = None,
        urgency: str | None = None,
        period: str = "",
        limit: int = 1000,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Open cases with a position inside the box as a GeoJSON FeatureCollection, oldest
        first, with `total` (all that match) and the page's `limit` and `offset`."""
        if not 1 <= limit <= MAP_LIMIT_MAX:
            raise InvalidField("limit", f"must be a whole number from 1 to {MAP_LIMIT_MAX}")
        if offset < 0:
            raise InvalidField("offset", "must be 0 or more")
        if urgency and urgency not in URGENCIES:
            raise InvalidField("urgency", f"must be one of: {', '.join(URGENCIES)}")
        min_lon, min_lat, max_lon, max_lat = bbox
        conditions: list[ColumnElement[bool]] = [
            Case.lat.between(min_lat, max_lat),
            Case.lon.between(min_lon, max_lon),
            Case.closed_at.is_(None),
        ]
        for column, value in (
            (Case.status, status),
            (Case.category_code, category),
            (Case.department_code, department),
            (Case.urgency, urgency),
        ):
            if value:
                conditions.append(column == value)
        conditions += self._reported_in(parse_period(period))
        with self._sessions() as session:
            conditions.append(readable_by(_reader(session, reader_id)))
            rows = session.execute(
                select(
                    Case.id, Case.case_no, Case.status, Case.category_code, Case.department_code, Case.grid_code,
                    Case.urgency, Case.lon, Case.lat, Case.created_at,
                )
                .where(*conditions)
                .order_by(Case.id)
                .limit(limit)
                .offset(offset)
            ).all()
            if offset == 0 and len(rows) < limit:
                total = len(rows)  # all of them: no second pass to count
            else:
                total = session.scalar(select(func.count(Case.id)).where(*conditions)) or 0
            deadlines = _open_task_deadlines(session, [r.id for r in rows])
            categories = {code: name for code, name in session.execute(select(Category.code, Category.name))}
            departments = {code: name for code, name in session.execute(select(Department.code, Department.name))}
        features = []
        for r in rows:
            state, due_at = deadlines.get(r.id, ("normal", None))
            features.append({
                "type": "Feature",
                "id": r.id,
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "id": r.id,
                    "case_no": r.case_no,
                    "status": r.status,
                    "category": {"code": r.category_code, "name": categories.get(r.category_code, "")}
                    if r.category_code else None,
                    "department": {"code": r.department_code, "name": departments.get(r.department_code, "")}
                    if r.department_code else None,
                    "grid": r.grid_code,
                    "urgency": r.urgency,
                    "deadline_state": state,
                    "due_at": due_at.isoformat() if due_at else None,
                    "reported_at": r.created_at.isoformat(),
                },
            })
        return {"type": "FeatureCollection", "features": features, "total": total, "limit": limit, "offset": offset}

    def counts(self, reader_id: int, period: str = "", measure: str = "reports") -> dict[str, Any]:
        """Per grid, the reports made in the period or the tasks that fell overdue with their
        deadline in it: {measure, period, grids: {code: count}} (grids with none left out)."""
        if measure not in MEASURES:
            raise InvalidField("measure", f"must be one of: {', '.join(MEASURES)}")
        bounds = parse_period(period)
        with self._sessions() as session:
            scope = readable_by(_reader(session, reader_id))
            if measure == "reports":
                query = (
                    select(Case.grid_code, func.count(Case.id))
                    .where(scope, Case.grid_code.is_not(None), *self._reported_in(bounds))
                    .group_by(Case.grid_code)
                )
            else:
                query = (
                    select(Case.grid_code, func.count(Task.id))
                    .join(Task, Task.case_id == Case.id)
                    .where(scope, Case.grid_code.is_not(None), Task.deadline_state == "overdue")
                    .group_by(Case.grid_code)
                )
                if bounds:
                    start, end = self._instants(bounds)
                    query = query.where(Task.due_at >= start, Task.due_at < end)
            grids = {code: int(count) for code, count in session.execute(query)}
        return {"measure": measure, "period": period.strip(), "grids": grids}

    def component_cases(self, reader_id: int, component_id: int) -> list[dict[str, Any]]:
        """The cases about a component (its history) that the reader may read, newest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(Case.id, Case.case_no, Case.status, Case.created_at, Case.closed_at)
                .where(Case.component_id == component_id, readable_by(_reader(session, reader_id)))
                .order_by(Case.id.desc())
            ).all()
        return [
            {"id": i, "case_no": n, "status": s, "reported_at": r.isoformat(), "closed_at": c and c.isoformat()}
            for i, n, s, r, c in rows
        ]

    def near(self, reader_id: int, lon: float, lat: float, within_m: float = NEAR_CASES_M) -> list[dict[str, Any]]:
        """Open cases the reader may read within the distance of a point, nearest first."""
        dlat = within_m / METRES_PER_DEGREE
        dlon = within_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        with self._sessions() as session:
            rows = session.execute(
                select(Case.id, Case.case_no, Case.status, Case.category_code, Case.lon, Case.lat)
                .where(
                    Case.lat.between(lat - dlat, lat + dlat),
                    Case.lon.between(lon - dlon, lon + dlon),
                    Case.closed_at.is_(None),
                    readable_by(_reader(session, reader_id)),
                )
                .limit(500)
            ).all()
        found = sorted((metres_between(lon, lat, r.lon, r.lat), r.id, r) for r in rows)
        return [
            {"id": r.id, "case_no": r.case_no, "status": r.status, "category": r.category_code, "metres": round(m, 1)}
            for m, _, r in found
            if m <= within_m
        ]

    def grid_at(self, grids: GridMap, lon: float, lat: float) -> str | None:
        """The grid a point lies in, for callers with no session of their own."""
        with self._sessions() as session:
            return grids.grid_at(session, lon, lat)

    def _reported_in(self, bounds: tuple[date, date] | None) -> list[ColumnElement[bool]]:
        if bounds is None:
            return []
        start, end = self._instants(bounds)
        return [Case.created_at >= start, Case.created_at < end]

    def _instants(self, bounds: tuple[date, date]) -> tuple[datetime, datetime]:
        return tuple(datetime.combine(d, time(), self._tz) for d in bounds)  # type: ignore[return-value]


def _open_task_deadlines(session: Session, case_ids: Sequence[int]) -> dict[int, tuple[str, datetime | None]]:
    """Per case, the worst deadline state of its open tasks and the nearest due instant: one
    query over the page's range of case ids (ix_task_case), the others' tasks skipped here."""
    found: dict[int, tuple[str, datetime | None]] = {}
    if not case_ids:
        return found
    wanted = set(case_ids)
    rows = session.execute(
        select(Task.case_id, Task.deadline_state, Task.due_at).where(
            Task.case_id.between(min(case_ids), max(case_ids)), Task.state == "open"
        )
    )
    rank = {state: n for n, state in enumerate(DEADLINE_STATES)}
    for case_id, state, due_at in rows:
        if case_id not in wanted:
            continue
        worst, nearest = found.get(case_id, ("normal", None))
        if rank.get(state, 0) > rank[worst]:
            worst = state
        if due_at is not None and (nearest is None or due_at < nearest):
            nearest = due_at
        found[case_id] = (worst, nearest)
    return found
