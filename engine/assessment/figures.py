"""考核: the assessment figures, computed from the audit trail only.

Every completion's audit event carries, fixed when it happened, the department answerable for
the case, the task's outcome (the diagram's `outcome` property), whether it was late and the
working time it took and ran over. The figures here are aggregate SQL over those events (joined
to the case for its grid and reporter), so they come back in one query per table however many
cases there are, and they always agree with the case histories.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Interval, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql import ColumnElement

from ..storage import AuditEvent, Case, Department, Grid, User, UserRole

# The outcomes (the diagram's `outcome` property) the figures count, in one place.
DISPATCHED = "dispatch"
REGISTERED = "register"
HANDLED = "done"
RETURNED = "return"
EXTENSION_ASKED = "extend"
EXTENSION_APPROVED = "approve"
REWORK = "rework"
CHECK_PASSED = "pass"
CLOSED = "close"
DEPARTMENT_ANSWERS = (HANDLED, RETURNED, EXTENSION_ASKED)
VERIFIED = ("found", "not_found")
CHECKED = (CHECK_PASSED, REWORK)

# Quarterly score (季度得分), out of 100, and the mark below which a quarter is failed (不合格).
SCORE_WEIGHTS = {"on_time_rate": 40, "closure_rate": 30, "rework_free": 20, "return_free": 10}
PASS_MARK = 60.0
FAILS_FLAGGED = 3  # a unit failing three times in a year loses its awards (取消评先创优资格)


@dataclass(frozen=True)
class Period:
    """[start, end) in local dates, e.g. a month, a quarter or any range."""

    start: date
    end: date  # exclusive

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(date(year, month, 1), following)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), Period.month(year, first + 2).end)

    def instants(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return (datetime.combine(self.start, time(), tz), datetime.combine(self.end, time(), tz))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _hours(seconds: Any) -> float | None:
    """Working hours; PostgreSQL's AVG gives a Decimal, SQLite's a float."""
    return round(float(seconds) / 3600, 2) if seconds is not None else None


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _counts(row: Any, keys: tuple[str, ...]) -> dict[str, int]:
    """The named sums of an aggregate row as whole numbers; all zero for a unit with no row."""
    return {key: int(getattr(row, key) or 0) if row is not None else 0 for key in keys}


class Assessment:
    def __init__(self, sessions: sessionmaker[Session], timezone: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = timezone

    # --- the tables -------------------------------------------------------------------------

    def departments(self, period: Period) -> list[dict[str, Any]]:
        """Per department: dispatched, handled, 按期处置率, 结案率, 返工率, 超期, 退回, 延期, average handling time."""
        start, end = period.instants(self._tz)
        event = AuditEvent
        closed = aliased(AuditEvent)
        closed_later = exists().where(
            closed.case_id == event.case_id,
            closed.outcome == CLOSED,
            closed.department_code == event.department_code,
            closed.at >= event.at,
            closed.at < end,
        )
        answer = event.outcome.in_(DEPARTMENT_ANSWERS)
        late = event.deadline_state == "overdue"
        query = (
            select(
                event.department_code,
                _count(event.outcome == DISPATCHED).label("dispatched"),
                _count(and_(event.outcome == DISPATCHED, closed_later)).label("dispatched_closed"),
                _count(event.outcome == HANDLED).label("handled"),
                _count(and_(event.outcome == HANDLED, ~late)).label("handled_on_time"),
                _count(event.outcome == RETURNED).label("returned"),
                _count(event.outcome == EXTENSION_ASKED).label("extensions_asked"),
                _count(event.outcome == EXTENSION_APPROVED).label("extensions_approved"),
                _count(event.outcome == REWORK).label("rework"),
                _count(event.outcome == CLOSED).label("closed"),
                _count(and_(answer, late)).label("overdue"),
                func.sum(case((answer, event.overdue_seconds), else_=0)).label("overdue_seconds"),
                func.avg(case((event.outcome == HANDLED, event.working_seconds))).label("handling_seconds"),
            )
            .where(event.action == "complete", event.at >= start, event.at < end, event.department_code.is_not(None))
            .group_by(event.department_code)
        )
        with self._sessions() as session:
            names = {code: name for code, name in session.execute(select(Department.code, Department.name))}
            rows = {row.department_code: row for row in session.execute(query)}
        return [self._department_figures(code, name, rows.get(code)) for code, name in sorted(names.items())]

    @staticmethod
    def _department_figures(code: str, name: str, row: Any) -> dict[str, Any]:
        numbers = _counts(row, ("dispatched", "dispatched_closed", "handled", "handled_on_time", "returned",
                                "extensions_asked", "extensions_approved", "rework", "closed", "overdue",
                                "overdue_seconds"))
        return {
            "department": code,
            "name": name,
            **{k: v for k, v in numbers.items() if k != "overdue_seconds"},
            "on_time_rate": _rate(numbers["handled_on_time"], numbers["handled"]),
            "closure_rate": _rate(numbers["dispatched_closed"], numbers["dispatched"]),
            "rework_rate": _rate(numbers["rework"], numbers["handled"]),
            "overdue_hours": _hours(numbers["overdue_seconds"]),
            "average_handling_hours": _hours(row.handling_seconds) if row is not None else None,
        }

    def grids(self, period: Period, inspections: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """Per grid: reported, registered, closed, handled and on time, rework, overdue, and the
        monthly sampling's inspections when given (grid, inspected, failed, problems)."""
        start, end = period.instants(self._tz)
        event = AuditEvent
        late = event.deadline_state == "overdue"
        query = (
            select(
                Case.grid_code,
                _count(event.action == "report").label("reported"),
                _count(event.outcome == REGISTERED).label("registered"),
                _count(event.outcome == HANDLED).label("handled"),
                _count(and_(event.outcome == HANDLED, ~late)).label("handled_on_time"),
                _count(event.outcome == REWORK).label("rework"),
                _count(event.outcome == CLOSED).label("closed"),
                _count(and_(event.outcome.in_(DEPARTMENT_ANSWERS), late)).label("overdue"),
            )
            .join(Case, Case.id == event.case_id)
            .where(event.action.in_(("report", "complete")), event.at >= start, event.at < end)
            .group_by(Case.grid_code)
        )
        with self._sessions() as session:
            grids = session.execute(select(Grid.code, Grid.name).order_by(Grid.code)).all()
            rows = {row.grid_code: row for row in session.execute(query)}
        inspected = {i["grid"]: i for i in inspections}
        result = []
        for code, name in grids:
            row = rows.get(code)
            numbers = _counts(row, ("reported", "registered", "handled", "handled_on_time", "rework", "closed",
                                    "overdue"))
            sample = inspected.get(code, {})
            result.append(
                {
                    "grid": code,
                    "name": name,
                    **numbers,
                    "on_time_rate": _rate(numbers["handled_on_time"], numbers["handled"]),
                    "rework_rate": _rate(numbers["rework"], numbers["handled"]),
                    "inspected": int(sample.get("inspected", 0)),
                    "inspections_failed": int(sample.get("failed", 0)),
                    "problems_found": int(sample.get("problems", 0)),
                }
            )
        return result

    def collectors(self, period: Period) -> list[dict[str, Any]]:
        """Per information collector: reports and the share registered (立案), verifications and
        checks done, and how many of those were late."""
        start, end = period.instants(self._tz)
        event = AuditEvent
        registered = aliased(AuditEvent)
        was_registered = exists().where(registered.case_id == event.case_id, registered.outcome == REGISTERED)
        own_work = event.outcome.in_(VERIFIED + CHECKED)
        query = (
            select(
                event.actor,
                _count(event.action == "report").label("reports"),
                _count(and_(event.action == "report", was_registered)).label("reports_registered"),
                _count(event.outcome.in_(VERIFIED)).label("verifications"),
                _count(event.outcome.in_(CHECKED)).label("checks"),
                _count(and_(own_work, event.deadline_state == "overdue")).label("late"),
            )
            .where(event.action.in_(("report", "complete")), event.at >= start, event.at < end)
            .group_by(event.actor)
        )
        with self._sessions() as session:
            collectors = session.execute(
                select(User.username, User.display_name, User.zone_code)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == "collector")
                .order_by(User.username)
            ).all()
            rows = {row.actor: row for row in session.execute(query)}
        result = []
        for username, display_name, zone in collectors:
            row = rows.get(username)
            numbers = _counts(row, ("reports", "reports_registered", "verifications", "checks", "late"))
            result.append(
                {
                    "collector": username,
                    "name": display_name,
                    "zone": zone,
                    **numbers,
                    "registered_share": _rate(numbers["reports_registered"], numbers["reports"]),
                }
            )
        return result

    def weekly(self, period: Period) -> list[dict[str, Any]]:
        """Cases reported and closed per week (weeks starting on Monday, local time)."""
        start, end = period.instants(self._tz)
        with self._sessions() as session:
            day = self._local_day(session, AuditEvent.at)
            rows = session.execute(
                select(
                    day.label("day"),
                    _count(AuditEvent.action == "report").label("reported"),
                    _count(AuditEvent.outcome == CLOSED).label("closed"),
                )
                .where(AuditEvent.action.in_(("report", "complete")), AuditEvent.at >= start, AuditEvent.at < end)
                .group_by(day)
            ).all()
        weeks: dict[date, dict[str, int]] = {}
        monday = period.start - timedelta(days=period.start.weekday())
        while monday < period.end:
            weeks[monday] = {"reported": 0, "closed": 0}
            monday += timedelta(days=7)
        for row in rows:
            on = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
            week = weeks[on - timedelta(days=on.weekday())]
            week["reported"] += int(row.reported or 0)
            week["closed"] += int(row.closed or 0)
        return [{"week": monday.isoformat(), **counts} for monday, counts in weeks.items()]

    def _local_day(self, session: Session, column: Any) -> Any:
        """The local calendar day of a UTC instant column, in the database's own dialect."""
        offset = int(datetime.now(self._tz).utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]
        if session.get_bind().dialect.name == "postgresql":
            return func.date(column + literal(timedelta(hours=offset), Interval()))
        return func.date(column, f"{offset:+d} hours")

    # --- quarterly scores and the bulletin --------------------------------------------------

    def quarterly_scores(self, year: int, quarter: int) -> list[dict[str, Any]]:
        """Departments with cases in the quarter, scored out of 100 and ranked; a quarter below
        the pass mark is failed. Departments given no case are listed after them, unscored."""
        figures = self.departments(Period.quarter(year, quarter))
        scored = []
        unscored = []
        for row in figures:
            if not row["dispatched"] and not row["handled"]:
                unscored.append(row | {"score": None, "rank": None, "passed": None})
                continue
            # A part with nothing to measure (nothing handled yet, nothing dispatched this
            # quarter) is left out and the others are scaled up, rather than counted as zero.
            parts = {
                "on_time_rate": row["on_time_rate"],
                "closure_rate": row["closure_rate"],
                "rework_free": None if row["rework_rate"] is None else 1 - min(1.0, row["rework_rate"]),
                "return_free": 1 - min(1.0, row["returned"] / row["dispatched"]) if row["dispatched"] else None,
            }
            measured = {k: v for k, v in parts.items() if v is not None}
            weight = sum(SCORE_WEIGHTS[k] for k in measured)
            score = round(100 * sum(SCORE_WEIGHTS[k] * v for k, v in measured.items()) / weight, 1)
            scored.append(row | {"score": score, "passed": score >= PASS_MARK})
        scored.sort(key=lambda r: (-r["score"], r["department"]))
        for rank, row in enumerate(scored, start=1):
            row["rank"] = rank
        return scored + unscored

    def flagged_units(self, year: int, through_quarter: int = 4) -> list[dict[str, Any]]:
        """Departments that failed the quarterly assessment three times or more in the year."""
        fails: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for quarter in range(1, through_quarter + 1):
            for row in self.quarterly_scores(year, quarter):
                names[row["department"]] = row["name"]
                if row["passed"] is False:
                    fails.setdefault(row["department"], []).append(quarter)
        return [
            {"department": code, "name": names[code], "failed_quarters": quarters}
            for code, quarters in sorted(fails.items())
            if len(quarters) >= FAILS_FLAGGED
        ]
