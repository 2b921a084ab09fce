"""The administrator's table of extra holidays and extra working days, for the years the
holiday package does not know yet (China publishes each year's 调休 in the autumn before)."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InvalidField, NotFound
from ..storage import CalendarDay, column_text, record
from ..vocabulary import CALENDAR_DAY_KINDS
from .calendar import BusinessCalendar
from .clock import Clock


class CalendarDays:
    def __init__(self, sessions: sessionmaker[Session], calendar: BusinessCalendar, clock: Clock) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock

    def reload(self) -> None:
        """Read the table into the calendar; each process does this at start and each sweep."""
        with self._sessions() as session:
            days = list(session.scalars(select(CalendarDay)))
        self._calendar.set_extra_days(
            [d.day for d in days if d.kind == "holiday"], [d.day for d in days if d.kind == "working"]
        )

    def list(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [
                {"day": d.day.isoformat(), "kind": d.kind, "note": d.note}
                for d in session.scalars(select(CalendarDay).order_by(CalendarDay.day))
            ]

    def set(self, day: Any, kind: Any, note: Any, actor: str) -> dict[str, Any]:
        parsed = _parse_day(day)
        if not isinstance(kind, str) or kind not in CALENDAR_DAY_KINDS:  # an object or a list cannot be looked up
            raise InvalidField("kind", f"must be one of: {', '.join(CALENDAR_DAY_KINDS)}")
        note = column_text(CalendarDay.note, "note", note)
        with self._sessions.begin() as session:
            row = session.get(CalendarDay, parsed)
            before = row.kind if row else None
            if row is None:
                row = CalendarDay(day=parsed, kind=kind, note=note)
                session.add(row)
            else:
                row.kind, row.note = kind, note
            record(
                session,
                at=self._clock.now(),
                actor=actor,
                action="calendar_day",
                detail={"day": parsed.isoformat(), "from": before, "to": kind, "note": note},
            )
        self.reload()
        return {"day": parsed.isoformat(), "kind": kind, "note": note}

    def remove(self, day: Any, actor: str) -> None:
        parsed = _parse_day(day)
        with self._sessions.begin() as session:
            row = session.get(CalendarDay, parsed)
            if row is None:
                raise NotFound(f"{parsed.isoformat()} is not in the calendar table")
            record(
                session,
                at=self._clock.now(),
                actor=actor,
                action="calendar_day",
                detail={"day": parsed.isoformat(), "from": row.kind, "to": None},
            )
            session.delete(row)
        self.reload()


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_day(day: Any) -> date:
    """Only YYYY-MM-DD: date.fromisoformat also reads 2030-W01-1 (a week date, 2029-12-31) and
    20300101, and a table of days the administrator types must mean the day he sees."""
    try:
        if not isinstance(day, str) or not _DAY.fullmatch(day):
            raise ValueError(day)
        return date.fromisoformat(day)
    except ValueError as exc:
        raise InvalidField("day", "must be a date like 2027-02-20") from exc
