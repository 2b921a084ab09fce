"""The component census (部件普查): located objects with an owner, imported by the hundred
thousand from CSV or GeoJSON, and the nearest one of a subtype to a reported point. Positions
are plain indexed columns: a few metres around a point is a small box that either database's
B-tree answers, so no spatial extension is needed."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..deadlines import Clock
from ..errors import Forbidden, InvalidField, NotFound
from ..storage import Case, Category, Component, Department, User, column_fits, record
from ..vocabulary import ADMINISTRATOR
from .outlines import METRES_PER_DEGREE, metres_between

NEAREST_WITHIN_M = 30.0  # a reported 部件 proposes the nearest of its subtype this close
BATCH = 5000  # rows a statement inserts
STATES = ("normal", "damaged", "missing", "removed")


@dataclass
class ImportReport:
    imported: int = 0
    refused_count: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)  # {line, code, reason}, the first 1000

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "refused": self.refused, "refused_count": self.refused_count}

    def refuse(self, line: int, code: str | None, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < 1000:
            self.refused.append({"line": line, "code": code, "reason": reason})


class ComponentCensus:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, nearest_within_m: float = NEAREST_WITHIN_M
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.nearest_within_m = nearest_within_m

    # --- reading -----------------------------------------------------------------------------

    def nearest(self, category: str, lon: float, lat: float, within_m: float | None = None) -> dict[str, Any] | None:
        """The nearest component of this subtype within the distance, or None."""
        with self._sessions() as session:
            found = nearest_component(session, category, lon, lat, within_m or self.nearest_within_m)
            return _component(found, lon, lat) if found else None

    def near(self, lon: float, lat: float, within_m: float, category: str | None = None) -> list[dict[str, Any]]:
        """Components within the distance of a point, nearest first (at most 200)."""
        with self._sessions() as session:
            rows = _in_box(session, lon, lat, within_m, category)
            found = sorted((metres_between(lon, lat, c.lon, c.lat), c.id, c) for c in rows)
            return [_component(c, lon, lat) for metres, _, c in found if metres <= within_m][:200]

    def component(self, code: str) -> dict[str, Any]:
        """One component with the cases reported about it, newest first: that object's history."""
        with self._sessions() as session:
            named = select(Component).where(Component.code == code)
            found = session.scalar(named) if column_fits(Component.code, code) else None
            if found is None:
                raise NotFound(f"component {code!r} does not exist")
            cases = session.execute(
                select(Case.id, Case.case_no, Case.status, Case.created_at, Case.closed_at)
                .where(Case.component_id == found.id)
                .order_by(Case.id.desc())
            ).all()
            history = [
                {"id": i, "case_no": n, "status": s, "reported_at": r.isoformat(), "closed_at": c and c.isoformat()}
                for i, n, s, r, c in cases
            ]
            return _component(found) | {"cases": history}

    # --- the census import -----------------------------------------------------------------------

    def import_csv(
        self, actor_id: int, lines: Iterable[str], progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Rows with the columns code, category, owner, state, x (longitude), y (latitude); more
        columns are ignored. A row refused is listed with its line and reason; the others are
        stored (a code seen before replaces that component's row)."""
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or not {"code", "category", "x", "y"} <= {f.strip() for f in reader.fieldnames}:
            raise InvalidField("file", "a CSV with the header code,category,owner,state,x,y")
        rows = ((reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}) for row in reader)
        return self._import(actor_id, rows, "csv", progress)

    def import_geojson(
        self, actor_id: int, text: str, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Point features with the properties code, category, owner and state."""
        try:
            collection = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InvalidField("file", f"not JSON: {exc}") from exc
        features = collection.get("features") if isinstance(collection, dict) else None
        if not isinstance(features, list):
            raise InvalidField("file", "must be a GeoJSON FeatureCollection of points")
        return self._import(actor_id, _feature_rows(features), "geojson", progress)

    def _import(
        self, actor_id: int, rows: Iterator[tuple[int, dict[str, str]]], source: str,
        progress: Callable[[int], None] | None,
    ) -> ImportReport:
        report = ImportReport()
        with self._sessions.begin() as session:
            actor = session.get(User, actor_id)
            if actor is None or not actor.active or ADMINISTRATOR not in actor.role_names:
                raise Forbidden("only an administrator imports the component census")
            categories = set(session.scalars(select(Category.code).where(Category.family == "component")))
            departments = set(session.scalars(select(Department.code)))
            existing = {code: number for code, number in session.execute(select(Component.code, Component.id))}
            added: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []  # rows of codes known before: one statement a batch too
            seen: set[str] = set()
            for line, row in rows:
                reason = _refusal(row, categories, departments, seen)
                if reason:
                    report.refuse(line, row.get("code") or None, reason)
                    continue
                seen.add(row["code"])
                values = {
                    "code": row["code"], "category_code": row["category"],
                    "owner_department_code": row.get("owner") or None, "state": row.get("state") or "normal",
                    "lon": float(row["x"]), "lat": float(row["y"]), "note": "",
                }
                if row["code"] in existing:
                    changed.append(values | {"id": existing[row["code"]]})
                else:
                    added.append(values)
                report.imported += 1
                if len(added) + len(changed) >= BATCH:
                    _write(session, added, changed)
                    if progress:
                        progress(report.imported)
            _write(session, added, changed)
            if progress:
                progress(report.imported)
            detail = {"source": source, "imported": report.imported, "refused": report.refused_count}
            record(session, at=self._clock.now(), actor=actor.username, action="reference_components", detail=detail)
        return report


def _write(session: Session, added: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
    """A batch of new rows and of rows replacing known codes, each kind in one statement."""
    if added:
        session.execute(insert(Component), added)
    if changed:
        session.execute(update(Component), changed)  # by primary key, executemany
    added.clear()
    changed.clear()


def nearest_component(session: Session, category: str, lon: float, lat: float, within_m: float) -> Component | None:
    """The nearest component of the subtype within the distance: the box around the point from
    the (lat, lon) index, then the exact distance of the few inside it."""
    found = [(metres_between(lon, lat, c.lon, c.lat), c.id, c) for c in _in_box(session, lon, lat, within_m, category)]
    found = [f for f in found if f[0] <= within_m]
    return min(found)[2] if found else None


def _in_box(session: Session, lon: float, lat: float, within_m: float, category: str | None) -> list[Component]:
    dlat = within_m / METRES_PER_DEGREE
    dlon = within_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    query = select(Component).where(
        Component.lat.between(lat - dlat, lat + dlat), Component.lon.between(lon - dlon, lon + dlon),
        Component.state != "removed",
    )
    if category is not None:
        query = query.where(Component.category_code == category)
    return list(session.scalars(query.limit(5000)))


def _feature_rows(features: list[Any]) -> Iterator[tuple[int, dict[str, str]]]:
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        given = properties.items() if isinstance(properties, dict) else []
        row = {k: str(v).strip() for k, v in given if v is not None}
        point = isinstance(geometry, dict) and geometry.get("type") == "Point"
        coordinates = geometry.get("coordinates") if point else None  # type: ignore[union-attr]
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            row["x"], row["y"] = str(coordinates[0]), str(coordinates[1])
        yield number, row


def _refusal(row: dict[str, str], categories: set[str], departments: set[str], seen: set[str]) -> str | None:
    code = row.get("code", "")
    if not code:
        return "code is required"
    if not column_fits(Component.code, code):
        return "code is longer than 32 characters or holds characters that cannot be stored"
    if code in seen:
        return f"code {code} appears twice in this file"
    if row.get("category") not in categories:
        return f"unknown 部件 category {row.get('category')!r}"
    if row.get("owner") and row["owner"] not in departments:
        return f"unknown owner department {row['owner']!r}"
    if (row.get("state") or "normal") not in STATES:
        return f"state must be one of: {', '.join(STATES)}"
    try:
        lon, lat = float(row.get("x", "")), float(row.get("y", ""))
    except ValueError:
        return "x and y must be longitude and latitude in degrees"
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # NaN fails here too
        return "x and y must be longitude and latitude in degrees"
    return None


def _component(component: Component, lon: float | None = None, lat: float | None = None) -> dict[str, Any]:
    found = {
        "id": component.id, "code": component.code, "category": component.category_code,
        "owner_department": component.owner_department_code, "state": component.state,
        "lat": component.lat, "long": component.lon,
    }
    if lon is not None and lat is not None:
        found["metres"] = round(metres_between(lon, lat, component.lon, component.lat), 1)
    return found


def csv_lines(content: bytes) -> Iterator[str]:
    """An uploaded file's text lines (UTF-8, with or without its byte order mark)."""
    return iter(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline=""))
