"""The grids on the map: which grid a position is in (地理编码), and the administrator's import
and export of grid outlines. Every process keeps an STRtree of the outlines and rebuilds it when
the outlines' version row says another process changed them: no restart."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import shapely
from shapely import Point
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..deadlines import Clock
from ..errors import DeployRefused, Forbidden, InvalidField, Problem
from ..storage import Case, Grid, ReferenceVersion, User, Zone, record
from ..vocabulary import ADMINISTRATOR
from .outlines import FeatureProblem, GridOutline, feature_collection, read_outlines

OUTLINES = "grid_outlines"  # the ReferenceVersion kind


class GridMap:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._tree: shapely.STRtree | None = None
        self._codes: list[str] = []

    # --- a position finds its grid --------------------------------------------------------

    def grid_at(self, session: Session, lon: float, lat: float) -> str | None:
        """The code of the grid this point lies in (on its edge counts), or None."""
        tree, codes = self._current(session)
        if tree is None:
            return None
        hits = tree.query(Point(lon, lat), predicate="intersects")
        return codes[int(min(hits))] if len(hits) else None

    def _current(self, session: Session) -> tuple[shapely.STRtree | None, list[str]]:
        """The tree of the newest outlines: one indexed read of the version row per call."""
        version = session.scalar(select(ReferenceVersion.version).where(ReferenceVersion.kind == OUTLINES)) or 0
        with self._lock:
            if version != self._version:
                rows = session.execute(
                    select(Grid.code, Grid.outline).where(Grid.outline.is_not(None)).order_by(Grid.code)
                ).all()
                shapes = [shapely.from_geojson(outline) for _, outline in rows]
                self._tree = shapely.STRtree(shapes) if shapes else None
                self._codes = [code for code, _ in rows]
                self._version = version
            return self._tree, self._codes

    # --- outlines: export, preview, apply ----------------------------------------------------

    def export(self) -> dict[str, Any]:
        with self._sessions() as session:
            rows = session.execute(select(Grid.code, Grid.name, Grid.zone_code, Grid.outline).order_by(Grid.code))
            return feature_collection([{"code": c, "name": n, "zone": z, "outline": o} for c, n, z, o in rows])

    def preview(self, text: str) -> dict[str, Any]:
        """What applying this FeatureCollection would do, and every problem that stops it."""
        with self._sessions() as session:
            outlines, problems = read_outlines(text)
            problems += self._against_stored(session, outlines)
            stored = set(session.scalars(select(Grid.code)))
            return {
                "grids": [
                    {"code": o.code, "name": o.name, "zone": o.zone, "new": o.code not in stored, "bbox": o.bbox}
                    for o in outlines
                ],
                "removed": sorted(stored - {o.code for o in outlines}),
                "problems": [p.as_dict() for p in problems],
            }

    def apply(self, actor_id: int, text: str) -> dict[str, Any]:
        """Replace the grids' outlines with the collection's, all or none. A grid the collection
        leaves out keeps its row (cases point at it) but loses its outline; one that running
        cases use may not disappear. Running cases keep their grid."""
        with self._sessions.begin() as session:
            actor = session.get(User, actor_id)
            if actor is None or not actor.active or ADMINISTRATOR not in actor.role_names:
                raise Forbidden("only an administrator changes the grids")
            outlines, problems = read_outlines(text)
            problems += self._against_stored(session, outlines)
            if problems:
                raise DeployRefused([Problem(str(p.feature), p.message, p.code) for p in problems])
            grids = {g.code: g for g in session.scalars(select(Grid))}
            added, changed = [], []
            for outline in outlines:
                grid = grids.get(outline.code)
                if grid is None:
                    grid = Grid(code=outline.code, name=outline.name, zone_code=outline.zone)
                    session.add(grid)
                    added.append(outline.code)
                elif grid.outline != outline.geojson() or grid.name != outline.name or grid.zone_code != outline.zone:
                    changed.append(outline.code)
                grid.name, grid.zone_code, grid.outline = outline.name, outline.zone, outline.geojson()
                grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat = outline.bbox
            removed = sorted(set(grids) - {o.code for o in outlines})
            for code in removed:
                grid = grids[code]
                grid.outline = grid.min_lon = grid.min_lat = grid.max_lon = grid.max_lat = None
            _bump(session, OUTLINES)
            detail = {"added": added, "changed": changed, "removed": removed}
            record(session, at=self._clock.now(), actor=actor.username, action="reference_grid_outlines", detail=detail)
        return detail

    @staticmethod
    def _against_stored(session: Session, outlines: Sequence[GridOutline]) -> list[FeatureProblem]:
        """Problems only the database knows: an unknown zone, and a grid that open cases use
        disappearing from the map."""
        zones = set(session.scalars(select(Zone.code)))
        problems = [
            FeatureProblem(o.feature, o.code, f"unknown zone {o.zone!r}") for o in outlines if o.zone not in zones
        ]
        kept = {o.code for o in outlines}
        in_use = {
            code
            for code in session.scalars(select(Case.grid_code).where(Case.closed_at.is_(None)).distinct())
            if code is not None
        }
        problems += [
            FeatureProblem(0, code, f"grid {code} is used by open cases and cannot disappear")
            for code in sorted(in_use - kept)
            if session.scalar(select(Grid.outline).where(Grid.code == code)) is not None
        ]
        return problems


def _bump(session: Session, kind: str) -> None:
    row = session.get(ReferenceVersion, kind, with_for_update=True)
    if row is None:
        session.add(ReferenceVersion(kind=kind, version=1))
    else:
        row.version += 1


def checked_position(fields: dict[str, Any]) -> tuple[float, float] | None:
    """(lon, lat) from a report's `lat` and `long`, or None when neither is given."""
    lat, lon = fields.get("lat"), fields.get("long")
    if lat is None and lon is None:
        return None
    for name, value, limit in (("lat", lat, 90), ("long", lon, 180)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidField(name, "must be a number (WGS84 degrees), given with the other of lat and long")
        if not -limit <= value <= limit:
            raise InvalidField(name, f"must be from -{limit} to {limit}")
    assert lat is not None and lon is not None
    return float(lon), float(lat)
