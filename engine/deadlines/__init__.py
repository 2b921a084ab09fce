"""Time: the one clock, the business calendar (working days and hours, holidays, 调休, natural
time for emergencies) and the administrator's extra calendar days."""
from __future__ import annotations

from .calendar import (
    CALENDARS,
    DEFAULT_WORKING_HOURS,
    NATURAL,
    WORKING,
    BusinessCalendar,
    TimeLimit,
    parse_working_hours,
)
from .calendar_days import CalendarDays
from .clock import Clock, ManualClock, SystemClock

__all__ = [
    "BusinessCalendar",
    "CALENDARS",
    "CalendarDays",
    "Clock",
    "DEFAULT_WORKING_HOURS",
    "ManualClock",
    "NATURAL",
    "SystemClock",
    "TimeLimit",
    "WORKING",
    "parse_working_hours",
]
