"""每月网格抽查: every month the assessment office (文明办) draws some grids at random (11 of the
33 in the reference district), inspects them and records what it found, with notes and photos.

A draw keeps its seed and the list of grids it drew from, so that anyone can re-do it with
`draw_grids` (Python's own random module, nothing of ours) and see that nobody chose the grids
by hand. One draw per month and one inspection per drawn grid: nothing is replaced, so the
record can be audited."""
from __future__ import annotations

import random
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from ..cases import PhotoStore
from ..deadlines import Clock
from ..errors import Conflict, Forbidden, InvalidField, NotFound
from ..storage import Grid, GridInspection, GridInspectionPhoto, SamplingDraw, User, record

ASSESSORS = frozenset({"assessor", "admin"})  # draw grids and record inspections
READERS = ASSESSORS | {"leader"}  # read draws, inspections and their photos
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
SEED_LIMIT = 2**64  # a generated seed is secrets.randbits(64); a given one must fit the same range
NOTES_LIMIT = 2000
PROBLEMS_LIMIT = 9999


def draw_grids(seed: int, grid_codes: Sequence[str], count: int) -> list[str]:
    """The draw itself, short enough to re-run by hand: a Fisher-Yates shuffle of the sorted
    grid codes driven by random.Random(seed).random(), whose sequence for an int seed Python
    keeps the same across versions (random.sample's use of it is not promised); the first
    `count` grids are drawn."""
    generator = random.Random(seed)
    grids = sorted(grid_codes)
    for last in range(len(grids) - 1, 0, -1):
        other = int(generator.random() * (last + 1))
        grids[last], grids[other] = grids[other], grids[last]
    return grids[:count]


class GridSampling:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        photos: PhotoStore,
        timezone: ZoneInfo,
        default_count: int = 11,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._photos = photos
        self._tz = timezone
        self.default_count = default_count

    def current_month(self) -> str:
        """The month it is now in the office's time zone, as YYYY-MM."""
        return self._clock.now().astimezone(self._tz).strftime("%Y-%m")

    # --- commands ---------------------------------------------------------------------------

    def draw(
        self, month: str, drawn_by_user_id: int, seed: int | None = None, count: int | None = None
    ) -> dict[str, Any]:
        """Draw `count` grids (default: the configured count) for the month, from every grid,
        with the given seed or a fresh random one; refused if the month was drawn already."""
        try:
            with self._sessions.begin() as session:
                now = self._clock.now()
                drawer = _user_with_role(session, drawn_by_user_id, ASSESSORS, "drawing grids")
                month = self._check_month(month, now)
                # A typed seed is recorded as typed: choosing seeds until the wanted grids come up
                # is possible, so the record must say who chose it (announce seeds beforehand).
                seed_typed = seed is not None
                if seed is None:
                    seed = secrets.randbits(64)
                elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
                    raise InvalidField("seed", "must be a whole number from 0 to 18446744073709551615")
                if session.scalar(select(SamplingDraw.id).where(SamplingDraw.month == month)) is not None:
                    raise Conflict(f"the grids of {month} were drawn already; a month has one draw")
                # Sorted here, not by the database: PostgreSQL's collation may order codes
                # differently from Python, and the recorded list must be the one re-drawn from.
                population = sorted(session.scalars(select(Grid.code)))
                count = self.default_count if count is None else count
                if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(population):
                    raise InvalidField("count", f"must be from 1 to {len(population)}, the number of grids")
                row = SamplingDraw(
                    month=month,
                    seed=str(seed),
                    count=count,
                    population=population,
                    grids=draw_grids(seed, population, count),
                    drawn_by=drawer.username,
                    drawn_at=now,
                )
                session.add(row)
                session.flush()  # a draw of the same month committed meanwhile fails here, not later
                record(
                    session,
                    at=now,
                    actor=drawer.username,
                    action="sampling_draw",
                    detail={
                        "month": month, "seed": str(seed), "seed_typed": seed_typed, "count": count,
                        "grids": row.grids,
                    },
                )
        except IntegrityError as exc:  # the unique month: two assessors drew at the same moment
            raise Conflict(f"the grids of {month} were drawn meanwhile by someone else") from exc
        return _draw_as_dict(row, [], [])

    def record_inspection(
        self,
        month: str,
        grid: str,
        inspector_user_id: int,
        passed: Any,
        problems: Any,
        notes: Any,
        photos: Sequence[bytes] = (),
    ) -> dict[str, Any]:
        """The result of inspecting one drawn grid: 合格 or 不合格, how many problems were found,
        notes and photos. One per grid and draw; a second is refused, never a replacement."""
        try:
            with self._sessions.begin() as session:
                now = self._clock.now()
                inspector = _user_with_role(session, inspector_user_id, ASSESSORS, "recording an inspection")
                draw = _draw(session, month)
                if grid not in draw.grids:
                    raise InvalidField("grid", f"grid {grid!r} was not drawn for {draw.month}")
                fields = _check_result(passed, problems, notes)
                checked_photos = self._photos.check(list(photos))
                inspected = select(GridInspection.id).where(
                    GridInspection.draw_id == draw.id, GridInspection.grid_code == grid
                )
                if session.scalar(inspected) is not None:
                    raise Conflict(f"grid {grid} of {draw.month} was inspected already; an inspection is not replaced")
                inspection = GridInspection(
                    draw_id=draw.id, grid_code=grid, inspected_by=inspector.username, inspected_at=now, **fields
                )
                session.add(inspection)
                session.flush()
                # Files are written before commit: a failed transaction leaves an unreferenced
                # copy under its hash, never a row pointing at a missing file.
                stored = [self._photos.save(content, content_type) for content, content_type in checked_photos]
                photo_rows = [
                    GridInspectionPhoto(
                        inspection_id=inspection.id,
                        sha256=photo.sha256,
                        content_type=photo.content_type,
                        size=photo.size,
                    )
                    for photo in stored
                ]
                session.add_all(photo_rows)
                record(
                    session,
                    at=now,
                    actor=inspector.username,
                    action="grid_inspection",
                    detail={"month": draw.month, "grid": grid, **fields, "photos": [p.sha256 for p in stored]},
                )
        except IntegrityError as exc:  # the unique (draw, grid): two inspectors at the same moment
            raise Conflict(f"grid {grid} of {month} was inspected meanwhile by someone else") from exc
        return _inspection_as_dict(inspection, photo_rows)

    # --- reads ------------------------------------------------------------------------------

    def draws(self, reader_id: int) -> list[dict[str, Any]]:
        """Every draw, newest month first, with the inspections recorded so far."""
        with self._sessions() as session:
            _user_with_role(session, reader_id, READERS, "reading the grid sampling")
            draws = list(session.scalars(select(SamplingDraw).order_by(SamplingDraw.month.desc())))
            return _with_inspections(session, draws)

    def draw_of(self, month: str, reader_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            _user_with_role(session, reader_id, READERS, "reading the grid sampling")
            return _with_inspections(session, [_draw(session, month)])[0]

    def verify(self, draw: Mapping[str, Any]) -> dict[str, Any]:
        """Re-do a draw from its seed, grid list and count, and say whether it gives the grids
        recorded. Needs nothing but the draw, so a copy of it can be checked anywhere."""
        recomputed = draw_grids(int(draw["seed"]), draw["population"], int(draw["count"]))
        return {
            "month": draw["month"],
            "seed": int(draw["seed"]),
            "recorded": list(draw["grids"]),
            "recomputed": recomputed,
            "matches": recomputed == list(draw["grids"]),
        }

    def redraw(self, month: str, reader_id: int) -> dict[str, Any]:
        """重新抽取核验: verify the month's stored draw, and say whether the grids of today are
        still the list it drew from (a grid added since would not have been drawable then)."""
        with self._sessions() as session:
            _user_with_role(session, reader_id, READERS, "reading the grid sampling")
            draw = _draw(session, month)
            today = sorted(session.scalars(select(Grid.code)))
            stored = _draw_as_dict(draw, [], [])
        return self.verify(stored) | {"grids_unchanged": today == stored["population"]}

    def photo(self, sha256: str, reader_id: int) -> tuple[str, str]:
        """(sha256, content type) of a photo of an inspection, for a reader of the sampling."""
        with self._sessions() as session:
            _user_with_role(session, reader_id, READERS, "reading the grid sampling")
            row = session.execute(
                select(GridInspectionPhoto.sha256, GridInspectionPhoto.content_type)
                .where(GridInspectionPhoto.sha256 == sha256)
                .limit(1)
            ).first()
            if row is None:
                raise NotFound("no such photo among the grid inspections")
            return row[0], row[1]

    def inspections(self, start: date, end: date) -> list[dict[str, Any]]:
        """Per grid, over the draws of the months that begin in [start, end): times drawn,
        times inspected, inspections failed and problems found. Pass the first day of the period
        and the first day after it (an inclusive last day gives the same months). Only grids
        drawn in the period are listed; the caller decides who may see the figures."""
        first, last = _months_beginning_in(start, end)
        with self._sessions() as session:
            drawn_lists = session.scalars(
                select(SamplingDraw.grids).where(SamplingDraw.month >= first, SamplingDraw.month <= last)
            )
            drawn: dict[str, int] = {}
            for grids in drawn_lists:  # a few draws a period; a JSON list is not worth SQL per dialect
                for grid in grids:
                    drawn[grid] = drawn.get(grid, 0) + 1
            totals = session.execute(
                select(
                    GridInspection.grid_code,
                    func.count(GridInspection.id),
                    func.sum(case((GridInspection.passed, 0), else_=1)),
                    func.sum(GridInspection.problems),
                )
                .join(SamplingDraw, SamplingDraw.id == GridInspection.draw_id)
                .where(SamplingDraw.month >= first, SamplingDraw.month <= last)
                .group_by(GridInspection.grid_code)
            )
            inspected = {grid: (int(count), int(failed), int(problems)) for grid, count, failed, problems in totals}
        return [
            {
                "grid": grid,
                "drawn": drawn.get(grid, 0),
                "inspected": inspected.get(grid, (0, 0, 0))[0],
                "failed": inspected.get(grid, (0, 0, 0))[1],
                "problems": inspected.get(grid, (0, 0, 0))[2],
            }
            for grid in sorted(drawn.keys() | inspected.keys())
        ]

    # --- checks -----------------------------------------------------------------------------

    def _check_month(self, month: Any, now: datetime) -> str:
        if not isinstance(month, str) or not MONTH.fullmatch(month):
            raise InvalidField("month", "must be a month written YYYY-MM")
        if month > now.astimezone(self._tz).strftime("%Y-%m"):
            raise InvalidField("month", "has not begun yet; a month is drawn when it has come")
        return month


def _user_with_role(session: Session, user_id: int, roles: frozenset[str], what: str) -> User:
    user = session.get(User, user_id, options=[joinedload(User.roles)])
    if user is None or not user.active:
        raise NotFound(f"user {user_id} does not exist")
    if not roles & user.role_names:
        raise Forbidden(f"{what} is for the roles {', '.join(sorted(roles))}")
    return user


def _draw(session: Session, month: str) -> SamplingDraw:
    draw = session.scalar(select(SamplingDraw).where(SamplingDraw.month == month))
    if draw is None:
        raise NotFound(f"no grids were drawn for {month}")
    return draw


def _check_result(passed: Any, problems: Any, notes: Any) -> dict[str, Any]:
    if not isinstance(passed, bool):
        raise InvalidField("passed", "required: true (合格) or false (不合格)")
    if isinstance(problems, bool) or not isinstance(problems, int):
        raise InvalidField("problems", "required: a whole number")
    if not 0 <= problems <= PROBLEMS_LIMIT:
        raise InvalidField("problems", f"must be from 0 to {PROBLEMS_LIMIT}")
    if not passed and problems == 0:
        raise InvalidField("problems", "a grid that failed has at least one problem")
    if notes is None:
        notes = ""
    if not isinstance(notes, str):
        raise InvalidField("notes", "must be text")
    if len(notes.strip()) > NOTES_LIMIT:
        raise InvalidField("notes", f"must be at most {NOTES_LIMIT} characters")
    return {"passed": passed, "problems": problems, "notes": notes.strip()}


def _months_beginning_in(start: date, end: date) -> tuple[str, str]:
    """The first and last YYYY-MM whose first day lies in [start, end); compared as text."""
    first = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first.strftime("%Y-%m"), (end - timedelta(days=1)).strftime("%Y-%m")


def _with_inspections(session: Session, draws: list[SamplingDraw]) -> list[dict[str, Any]]:
    ids = [d.id for d in draws]
    inspections = list(session.scalars(select(GridInspection).where(GridInspection.draw_id.in_(ids))))
    photos = list(
        session.scalars(
            select(GridInspectionPhoto)
            .where(GridInspectionPhoto.inspection_id.in_([i.id for i in inspections]))
            .order_by(GridInspectionPhoto.id)
        )
    )
    return [_draw_as_dict(d, [i for i in inspections if i.draw_id == d.id], photos) for d in draws]


def _draw_as_dict(
    draw: SamplingDraw, inspections: list[GridInspection], photos: list[GridInspectionPhoto]
) -> dict[str, Any]:
    by_grid = {i.grid_code: _inspection_as_dict(i, [p for p in photos if p.inspection_id == i.id]) for i in inspections}
    return {
        "id": draw.id,
        "month": draw.month,
        "seed": int(draw.seed),
        "count": draw.count,
        "population": list(draw.population),
        "grids": list(draw.grids),  # in the order drawn
        "drawn_by": draw.drawn_by,
        "drawn_at": draw.drawn_at.isoformat(),
        "inspections": by_grid,
        "inspected": len(by_grid),
        "failed": sum(1 for i in by_grid.values() if not i["passed"]),
    }


def _inspection_as_dict(inspection: GridInspection, photos: list[GridInspectionPhoto]) -> dict[str, Any]:
    return {
        "grid": inspection.grid_code,
        "passed": inspection.passed,
        "problems": inspection.problems,
        "notes": inspection.notes,
        "inspected_by": inspection.inspected_by,
        "inspected_at": inspection.inspected_at.isoformat(),
        "photos": [{"sha256": p.sha256, "content_type": p.content_type, "size": p.size} for p in photos],
    }
