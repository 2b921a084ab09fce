"""考核 figures on a hand-built set of cases whose answers are worked out below by hand,
including a case late by a known working time, rework, a return, an extension, and a case
that spans the New Year holiday."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask

from engine import Gridflow
from engine.assessment.figures import Period
from engine.deadlines.clock import ManualClock

from .conftest import Api, local, logged_in

RANGE = Period(date(2026, 11, 1), date(2027, 1, 10))
HOUR = 3600


def at(clock: ManualClock, when: str) -> None:
    clock.set(local(when))


def dispatched(api: Api, department: str) -> int:
    case_id = api.report("collector03", channel="collector")["id"]  # grid 03-02
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department=department)
    return case_id


def checked_and_closed(api: Api, clock: ManualClock, case_id: int, check: str, close: str) -> None:
    at(clock, check)
    api.complete("collector03", case_id, "check", passed=True)
    at(clock, close)
    api.complete("operator", case_id, "close")


@pytest.fixture
def worked_cases(api: Api, clock: ManualClock) -> dict[str, int]:
    """The timeline, in Beijing time. Working hours 08:30-12:00 and 13:30-17:30."""
    at(clock, "2026-11-25 09:00")  # Wednesday
    a, b, d, e = (dispatched(api, "JD03") for _ in range(4))  # handling due Thursday 09:00
    at(clock, "2026-11-25 10:00")
    api.complete("jd03", a, "handle", action="done", result="已清理")  # A: 1 h, in time
    api.complete("jd03", d, "handle", action="return", result="非本单位职责")  # D: returned
    api.complete("jd03", e, "handle", action="extend", extend_by="P1D", result="需协调")
    at(clock, "2026-11-25 10:30")
    api.complete("dispatcher", d, "dispatch", department="ZJJ")
    api.complete("leader", e, "approve_extension", approved=True)  # E: now due Friday 09:00
    at(clock, "2026-11-25 11:00")
    api.complete("zjj", d, "handle", action="done", result="已处理")  # D at ZJJ: 0.5 h, in time
    at(clock, "2026-11-25 11:30")
    api.complete("collector03", d, "check", passed=True)  # D waits to be closed
    checked_and_closed(api, clock, a, "2026-11-25 11:00", "2026-11-25 11:30")

    at(clock, "2026-11-26 16:00")
    api.complete("jd03", e, "handle", action="done", result="已协调清理")  # E: 1.5+4+3.5+2.5 = 11.5 h
    checked_and_closed(api, clock, e, "2026-11-26 16:30", "2026-11-26 17:00")

    at(clock, "2026-11-27 10:00")  # Friday: B is 7 h (Thursday from 09:00) + 1.5 h late
    api.complete("jd03", b, "handle", action="done", result="已清理")  # B: 7+7.5+1.5 = 16 h
    at(clock, "2026-11-27 11:00")
    api.complete("collector03", b, "check", passed=False, note="货架仍在")  # rework, due Monday 11:00
    at(clock, "2026-11-27 15:00")
    api.complete("jd03", b, "handle", action="done", result="已彻底清理")  # B again: 1+1.5 = 2.5 h
    checked_and_closed(api, clock, b, "2026-11-27 15:30", "2026-11-27 16:00")

    at(clock, "2026-12-31 09:00")  # Thursday; 1-3 January 2027 are the New Year holiday
    c = dispatched(api, "JD03")  # due Monday 4 January 09:00
    at(clock, "2027-01-04 08:45")
    api.complete("jd03", c, "handle", action="done", result="已清理")  # C: 7 h + 0.25 h
    checked_and_closed(api, clock, c, "2027-01-04 09:00", "2027-01-04 09:30")
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def by(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    [row] = [r for r in rows if r[key] == value]
    return row


def test_department_figures_match_the_hand_worked_answers(gridflow: Gridflow, worked_cases: dict[str, int]) -> None:
    departments = gridflow.assessment.departments(RANGE)
    jd03 = by(departments, "department", "JD03")
    assert jd03 == {
        "department": "JD03",
        "name": jd03["name"],
        "dispatched": 5,  # A B D E C
        "dispatched_closed": 4,  # all but D, which ZJJ finished
        "handled": 5,  # A, B twice, E, C
        "handled_on_time": 4,  # B's first answer was late
        "returned": 1,
        "extensions_asked": 1,
        "extensions_approved": 1,
        "rework": 1,
        "closed": 4,
        "overdue": 1,
        "on_time_rate": 0.8,
        "closure_rate": 0.8,
        "rework_rate": 0.2,
        "overdue_hours": 8.5,
        # (1 + 16 + 2.5 + 11.5 + 7.25) / 5 working hours
        "average_handling_hours": 7.65,
    }
    zjj = by(departments, "department", "ZJJ")
    assert (zjj["dispatched"], zjj["handled"], zjj["on_time_rate"], zjj["closure_rate"]) == (1, 1, 1.0, 0.0)
    assert zjj["average_handling_hours"] == 0.5
    idle = by(departments, "department", "CGJ")
    assert (idle["dispatched"], idle["on_time_rate"], idle["average_handling_hours"]) == (0, None, None)


def test_the_figures_are_the_audit_trails_own_numbers(api: Api, worked_cases: dict[str, int]) -> None:
    handled = [
        (e["outcome"], e["deadline_state"], e["working_seconds"], e["overdue_seconds"])
        for e in api.case(worked_cases["b"])["history"]
        if e["task"] == "handle"
    ]
    assert handled == [("done", "overdue", 16 * HOUR, int(8.5 * HOUR)), ("done", "normal", int(2.5 * HOUR), 0)]
    [c_handled] = [e for e in api.case(worked_cases["c"])["history"] if e["task"] == "handle"]
    assert c_handled["working_seconds"] == int(7.25 * HOUR)  # the holiday and weekend do not count


def test_grid_and_collector_figures(gridflow: Gridflow, worked_cases: dict[str, int]) -> None:
    sampled = [{"grid": "03-02", "inspected": 1, "failed": 1, "problems": 3}]
    grids = gridflow.assessment.grids(RANGE, inspections=sampled)
    grid = by(grids, "grid", "03-02")
    assert {k: grid[k] for k in ("reported", "registered", "handled", "handled_on_time", "rework", "closed",
                                 "overdue", "on_time_rate", "inspected", "inspections_failed", "problems_found")} == {
        "reported": 5, "registered": 5, "handled": 6, "handled_on_time": 5, "rework": 1, "closed": 4,
        "overdue": 1, "on_time_rate": 0.8333, "inspected": 1, "inspections_failed": 1, "problems_found": 3,
    }
    assert by(grids, "grid", "03-01")["reported"] == 0
    assert len(grids) == 33

    collector = by(gridflow.assessment.collectors(RANGE), "collector", "collector03")
    assert {k: collector[k] for k in ("reports", "reports_registered", "registered_share", "checks", "late")} == {
        "reports": 5, "reports_registered": 5, "registered_share": 1.0, "checks": 6, "late": 0,
    }


def test_weekly_trend_counts_reports_and_closures_by_local_week(
    gridflow: Gridflow, worked_cases: dict[str, int]
) -> None:
    weeks = {w["week"]: w for w in gridflow.assessment.weekly(Period(date(2026, 11, 23), date(2027, 1, 10)))}
    assert weeks["2026-11-23"] == {"week": "2026-11-23", "reported": 4, "closed": 3}
    assert weeks["2026-12-28"] == {"week": "2026-12-28", "reported": 1, "closed": 0}
    assert weeks["2027-01-04"] == {"week": "2027-01-04", "reported": 0, "closed": 1}
    assert weeks["2026-12-07"] == {"week": "2026-12-07", "reported": 0, "closed": 0}


def test_quarterly_scores_rank_departments(gridflow: Gridflow, worked_cases: dict[str, int]) -> None:
    scores = gridflow.assessment.quarterly_scores(2026, 4)
    # JD03 in Q4: on time 3/4, closed 3/5 by 31 December, rework 1/4, returned 1/5:
    # 40 x 0.75 + 30 x 0.6 + 20 x 0.75 + 10 x 0.8 = 71.0.  ZJJ: 40 + 0 + 20 + 10 = 70.0.
    ranked = [(r["department"], r["score"], r["rank"], r["passed"]) for r in scores if r["score"] is not None]
    assert ranked == [("JD03", 71.0, 1, True), ("ZJJ", 70.0, 2, True)]
    assert all(r["score"] is None for r in scores[2:])


def test_a_department_failing_three_quarters_of_a_year_is_flagged(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    for when in ("2027-02-24 09:00", "2027-05-12 09:00", "2027-08-11 09:00"):  # one per quarter
        at(clock, when)
        case_id = dispatched(api, "CGJ")
        api.complete("cgj", case_id, "handle", action="return", result="非本单位职责")  # score 20: failed
    assert [r["passed"] for r in gridflow.assessment.quarterly_scores(2027, 2) if r["department"] == "CGJ"] == [False]
    assert gridflow.assessment.flagged_units(2027, through_quarter=2) == []
    assert gridflow.assessment.flagged_units(2027) == [
        {"department": "CGJ", "name": by(gridflow.assessment.departments(RANGE), "department", "CGJ")["name"],
         "failed_quarters": [1, 2, 3]}
    ]


def test_a_report_early_on_monday_counts_in_its_local_week(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    at(clock, "2026-11-30 07:30")  # Monday in Beijing, still Sunday 23:30 in UTC
    api.report("collector03", channel="collector")
    two_weeks = Period(date(2026, 11, 23), date(2026, 12, 7))
    weeks = {w["week"]: w["reported"] for w in gridflow.assessment.weekly(two_weeks)}
    assert weeks == {"2026-11-23": 0, "2026-11-30": 1}


def test_only_leaders_and_the_assessment_office_read_the_figures(app: Flask) -> None:
    collector = logged_in(app, "collector03")
    for path in ("/assessment/", "/assessment/bulletin", "/assessment/export/departments.csv?month=2026-11"):
        assert collector.get(path).status_code == 403, path
    assessor = logged_in(app, "assessor")
    bad_periods = (
        "/assessment/export/scores.xlsx?quarter=2026-Q5",
        "/assessment/export/grids.csv?start=0001-01-01&end=0001-02-01",
    )
    for path in bad_periods:
        answer = assessor.get(path)
        assert answer.status_code == 400, path
        assert answer.get_json()["field"] in ("quarter", "start")
    assert assessor.get("/assessment/bulletin?quarter=0001-Q1").status_code == 400
