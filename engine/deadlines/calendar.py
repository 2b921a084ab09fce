"""Working time: adds a time limit to an instant over working days and hours, Chinese public
holidays and the weekend days made working days (调休), or over natural time for 24x7 work.

Limits are ISO 8601 durations. On the working calendar a day is one working day (the same
time of day on the next working day) and hours and minutes are working hours and minutes;
on the natural calendar they are plain clock time.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

WORKING = "working"
NATURAL = "natural"
CALENDARS = (WORKING, NATURAL)

DEFAULT_WORKING_HOURS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)

# ASCII digits only: \d and int() would take ２ or ٢ as 2. A number has at most
# DURATION_DIGITS digits - a year in seconds (PT31536000S) has 8 - so int() never meets
# Python's own 4,300-digit limit, and the refusal is ours, naming the field.
DURATION_DIGITS = 9
_DURATION = re.compile(
    r"P(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+)S)?)?"
)


def parse_working_hours(text: str) -> tuple[tuple[time, time], ...]:
    """Working periods written as the office says them: "08:30-12:00,13:30-17:30"."""
    periods = []
    for part in text.split(","):
        try:
            start, end = (time.fromisoformat(t.strip()) for t in part.split("-"))
        except ValueError as exc:
            raise ValueError(f"working hours must read like 08:30-12:00,13:30-17:30, not {text!r}") from exc
        periods.append((start, end))
    return tuple(periods)


@dataclass(frozen=True)
class TimeLimit:
    """A limit as the office states it: whole days plus a part of a day."""

    days: int
    seconds: int

    def magnitude(self) -> int:
        """Seconds on a 24-hour day: only for comparing two limits, never for deadlines."""
        return self.days * 86400 + self.seconds

    def length(self, day_seconds: int) -> int:
        """Seconds when a day is `day_seconds` long: the working seconds of a working day on the
        working calendar (P1D is 7.5 hours of work, not 24), 86400 on the natural one."""
        return self.days * day_seconds + self.seconds

    def in_words(self) -> str:
        """As the office writes a limit, e.g. 2天4小时; days are the case's calendar's days."""
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        parts = ((self.days, "天"), (hours, "小时"), (minutes, "分钟"), (seconds, "秒"))
        return "".join(f"{number}{unit}" for number, unit in parts if number) or "0"

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Read an ISO 8601 duration such as P1D, PT2H, PT30M or P2DT4H."""
        match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
        if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
            shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
            raise ValueError(f"not an ISO 8601 duration (e.g. P1D, PT2H, PT30M): {shown}")
        if any(len(number) > DURATION_DIGITS for number in match.groups() if number):
            raise ValueError(f"a number in a duration has at most {DURATION_DIGITS} digits")
        part = {k: int(v or 0) for k, v in match.groupdict().items()}
        return cls(
            days=part["weeks"] * 7 + part["days"],
            seconds=part["hours"] * 3600 + part["minutes"] * 60 + part["seconds"],
        )


class BusinessCalendar:
    def __init__(
        self,
        tz: str = "Asia/Shanghai",
        working_hours: Iterable[tuple[time, time]] = DEFAULT_WORKING_HOURS,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.working_hours = tuple(sorted(working_hours))
        if not self.working_hours or any(start >= end for start, end in self.working_hours):
            raise ValueError("working hours must be non-empty periods with start before end")
        self._extra_holidays: frozenset[date] = frozenset()
        self._extra_working_days: frozenset[date] = frozenset()
        self.set_extra_days(extra_holidays, extra_working_days)
        self._public_holidays = holidays.China()
        self.working_day_seconds = sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start)).seconds
            for start, end in self.working_hours
        )

    def set_extra_days(self, extra_holidays: Iterable[date], extra_working_days: Iterable[date]) -> None:
        """The administrator's table for what the holiday package does not know yet."""
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_working_days = frozenset(extra_working_days)

    # --- days -------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        if day in self._extra_working_days:
            return True
        if day in self._extra_holidays:
            return False
        return bool(self._public_holidays.is_working_day(day))

    # --- adding limits ----------------------------------------------------------------------

    def add(self, start: datetime, limit: str | TimeLimit, calendar: str = WORKING) -> datetime:
        """The instant a limit that starts at `start` runs out, in UTC."""
        if isinstance(limit, str):
            limit = TimeLimit.parse(limit)
        if calendar == NATURAL:
            return (start + timedelta(days=limit.days, seconds=limit.seconds)).astimezone(UTC)
        if calendar != WORKING:
            raise ValueError(f"unknown calendar {calendar!r}; expected one of {CALENDARS}")
        local = self._next_working_instant(start.astimezone(self.tz))
        for _ in range(limit.days):
            local = self._same_time_next_working_day(local)
        local = self._add_working_seconds(local, limit.seconds)
        return local.astimezone(UTC)

    def length(self, limit: str | TimeLimit, calendar: str = WORKING) -> int:
        """How long a limit is on the case's calendar, in that calendar's seconds: what a cap
        on a limit (an extension of at most P30D) compares, so that PT720H - 96 working days -
        is not taken for 30 days."""
        if isinstance(limit, str):
            limit = TimeLimit.parse(limit)
        if calendar == NATURAL:
            return limit.length(86400)
        if calendar != WORKING:
            raise ValueError(f"unknown calendar {calendar!r}; expected one of {CALENDARS}")
        return limit.length(self.working_day_seconds)

    def warning_point(
        self, deadline: datetime, limit: str | TimeLimit, share: float, calendar: str = WORKING
    ) -> datetime:
        """The instant a task turns yellow (预警): when only (1 - share) of its limit is left
        before the deadline. Counted back from the deadline, so it follows an extension."""
        if isinstance(limit, str):
            limit = TimeLimit.parse(limit)
        if not 0 <= share <= 1:
            raise ValueError(f"warning share must be between 0 and 1, not {share}")
        left = self.length(limit, calendar) * (1 - share)
        if calendar == NATURAL:
            return (deadline - timedelta(seconds=left)).astimezone(UTC)
        return self._subtract_working_seconds(deadline.astimezone(self.tz), round(left)).astimezone(UTC)

    def seconds_between(self, start: datetime, end: datetime, calendar: str = WORKING) -> int:
        """Time from start to end counted on the case's calendar: working time, or clock time
        for the natural calendar (emergencies)."""
        if calendar == NATURAL:
            return int((end - start).total_seconds())
        return self.working_seconds_between(start, end)

    def working_seconds_between(self, start: datetime, end: datetime) -> int:
        """Working time from start to end; negative when end is before start (time overdue)."""
        if end < start:
            return -self.working_seconds_between(end, start)
        local_start, local_end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta()
        day = local_start.date()
        while day <= local_end.date():
            if self.is_working_day(day):
                for period_start, period_end in self.working_hours:
                    overlap = min(local_end, self._at(day, period_end)) - max(local_start, self._at(day, period_start))
                    if overlap > timedelta():
                        total += overlap
            day += timedelta(days=1)
        return int(total.total_seconds())

    def _at(self, day: date, clock_time: time) -> datetime:
        return datetime.combine(day, clock_time, tzinfo=self.tz)

    def _next_working_instant(self, local: datetime) -> datetime:
        """`local` itself when it falls in working hours, else the start of the next period."""
        day = local.date()
        while True:
            if self.is_working_day(day):
                for start, end in self.working_hours:
                    if local < self._at(day, end):
                        return max(local, self._at(day, start))
            day += timedelta(days=1)
            local = self._at(day, time(0))

    def _previous_working_instant(self, local: datetime) -> datetime:
        """`local` itself when it falls in working hours (or ends a period), else the end of the
        period before it."""
        day = local.date()
        while True:
            if self.is_working_day(day):
                for start, end in reversed(self.working_hours):
                    if local > self._at(day, start):
                        return min(local, self._at(day, end))
            day -= timedelta(days=1)
            local = self._at(day, time.max)

    def _subtract_working_seconds(self, local: datetime, seconds: int) -> datetime:
        remaining = timedelta(seconds=seconds)
        while True:
            local = self._previous_working_instant(local)
            period_start = next(
                self._at(local.date(), start)
                for start, end in self.working_hours
                if self._at(local.date(), start) < local <= self._at(local.date(), end)
            )
            if local - remaining >= period_start:
                return local - remaining
            remaining -= local - period_start
            local = period_start

    def _same_time_next_working_day(self, local: datetime) -> datetime:
        day = local.date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return self._next_working_instant(self._at(day, local.timetz().replace(tzinfo=None)))

    def _add_working_seconds(self, local: datetime, seconds: int) -> datetime:
        remaining = timedelta(seconds=seconds)
        while True:
            local = self._next_working_instant(local)
            period_end = next(
                self._at(local.date(), end)
                for start, end in self.working_hours
                if self._at(local.date(), start) <= local < self._at(local.date(), end)
            )
            if local + remaining <= period_end:
                return local + remaining
            remaining -= period_end - local
            local = period_end
