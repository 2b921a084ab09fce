"""Working-time arithmetic: weekends, public holidays, adjusted working weekends (调休), lunch,
the end of the working day, and natural time for emergencies."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest

from engine.deadlines.calendar import BusinessCalendar, TimeLimit, parse_working_hours

from .conftest import Api, local

CALENDAR = BusinessCalendar("Asia/Shanghai")


@pytest.mark.parametrize(
    ("start", "limit", "deadline"),
    [
        ("2026-11-25 09:00", "PT2H", "2026-11-25 11:00"),  # plain morning
        ("2026-11-25 11:00", "PT2H", "2026-11-25 14:30"),  # across lunch (12:00-13:30)
        ("2026-11-25 12:30", "PT1H", "2026-11-25 14:30"),  # reported at lunch: the clock starts at 13:30
        ("2026-11-25 17:00", "PT1H", "2026-11-26 09:00"),  # across the end of the working day
        ("2026-11-25 19:00", "PT30M", "2026-11-26 09:00"),  # reported in the evening
        ("2026-11-27 16:00", "PT2H", "2026-11-30 09:00"),  # Friday afternoon, over the weekend
        ("2026-11-28 10:00", "P1D", "2026-12-01 08:30"),  # reported on Saturday
        ("2026-11-25 10:00", "P1D", "2026-11-26 10:00"),  # one working day
        ("2026-11-25 10:00", "P3D", "2026-11-30 10:00"),  # three working days over a weekend
        ("2026-09-30 10:00", "P1D", "2026-10-08 10:00"),  # over National Day 2026 (10-01 to 10-07)
        ("2026-09-18 16:00", "P1D", "2026-09-20 16:00"),  # Sunday 2026-09-20 is a working day (调休)
        ("2026-10-09 16:00", "PT2H", "2026-10-10 09:00"),  # so is Saturday 2026-10-10
        ("2026-02-13 10:00", "P1D", "2026-02-14 10:00"),  # Saturday 2026-02-14 before Spring Festival
    ],
)
def test_working_time(start: str, limit: str, deadline: str) -> None:
    assert CALENDAR.add(local(start), limit) == local(deadline)


def test_natural_time_counts_nights_weekends_and_holidays() -> None:
    assert CALENDAR.add(local("2026-10-01 23:30"), "PT2H", "natural") == local("2026-10-02 01:30")
    assert CALENDAR.add(local("2026-11-28 10:00"), "P1D", "natural") == local("2026-11-29 10:00")


def test_extra_holidays_and_working_days_override_the_package() -> None:
    calendar = BusinessCalendar(
        "Asia/Shanghai", extra_holidays=[date(2026, 11, 26)], extra_working_days=[date(2026, 11, 28)]
    )
    assert calendar.add(local("2026-11-25 10:00"), "P1D") == local("2026-11-27 10:00")
    assert calendar.add(local("2026-11-27 10:00"), "P1D") == local("2026-11-28 10:00")


def test_working_hours_are_configurable() -> None:
    calendar = BusinessCalendar("Asia/Shanghai", working_hours=[(time(9, 0), time(17, 0))])
    assert calendar.add(local("2026-11-25 16:00"), "PT2H") == local("2026-11-26 10:00")


@pytest.mark.parametrize("text", ["", "P", "PT", "2D", "P1.5D", "PT2X", "1 day"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        TimeLimit.parse(text)


def test_unknown_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        CALENDAR.add(local("2026-11-25 10:00"), "PT1H", "lunar")


def test_spring_festival_2027_from_the_package() -> None:
    # 2027-02-05 (除夕) to 02-10 are holidays in the package; 02-06/07 are the weekend.
    assert CALENDAR.add(local("2027-02-04 10:00"), "P1D") == local("2027-02-11 10:00")
    assert CALENDAR.add(local("2027-02-04 16:30"), "PT2H") == local("2027-02-11 09:30")


def test_the_administrators_table_adds_the_days_the_package_does_not_know(api: Api) -> None:
    # Suppose 2027's schedule makes Sunday 2027-02-14 a working day (调休): a report on Friday
    # 02-12 16:00 with a one-working-day limit is then due on that Sunday, not on Monday.
    answer = api.call("PUT", "/api/calendar/days/2027-02-14", "admin", json={"kind": "working", "note": "春节调休上班"})
    assert answer == {"day": "2027-02-14", "kind": "working", "note": "春节调休上班"}
    assert api.get("/api/calendar/days", "operator") == [answer]
    assert api.clock is not None
    api.clock.set(local("2027-02-12 16:00"))
    case_id = api.report("collector03", channel="collector")["id"]
    register = api.task("operator", case_id, "register")
    assert datetime.fromisoformat(register["due_at"]) == local("2027-02-12 17:00")
    api.call("PUT", "/api/calendar/days/2027-02-12", "admin", json={"kind": "holiday", "note": "假设放假"})
    second = api.report("collector03", channel="collector")["id"]
    assert datetime.fromisoformat(api.task("operator", second, "register")["due_at"]) == local("2027-02-14 09:30")

    bad_day = api.call("PUT", "/api/calendar/days/2027-02-30", "admin", expect=422, json={"kind": "working"})
    assert bad_day["field"] == "day"
    bad_kind = api.call("PUT", "/api/calendar/days/2027-03-01", "admin", expect=422, json={"kind": "maybe"})
    assert bad_kind["field"] == "kind"
    assert api.call("PUT", "/api/calendar/days/2027-03-01", "operator", expect=403, json={"kind": "working"})
    api.call("DELETE", "/api/calendar/days/2027-02-12", "admin", expect=204)
    assert [d["day"] for d in api.get("/api/calendar/days", "operator")] == ["2027-02-14"]


def test_working_hours_read_as_the_office_writes_them() -> None:
    assert parse_working_hours("08:30-12:00, 13:30-17:30") == ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    with pytest.raises(ValueError, match="08:30-12:00"):
        parse_working_hours("morning")


def test_working_time_between_two_instants() -> None:
    assert CALENDAR.working_seconds_between(local("2026-11-27 16:30"), local("2026-11-30 09:30")) == 2 * 3600
    assert CALENDAR.working_seconds_between(local("2026-11-30 09:30"), local("2026-11-27 16:30")) == -2 * 3600
    assert CALENDAR.working_seconds_between(local("2026-11-25 11:00"), local("2026-11-25 14:00")) == 90 * 60
