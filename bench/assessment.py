"""Assessment benchmark: how long the 考核 figures take over 100,000 cases.

    python bench/assessment.py [--cases 100000]

A dozen cases are worked through the engine (in time, late, returned, extended, reworked, in
several departments); their case rows and audit events are then copied with SQL, spread over
the 33 grids and over the quarter, until the database holds --cases cases with about eight
audit events each. Each figure is then asked for five times on the whole quarter; the slowest
answer is printed. SQLite, one process.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases_by_sql import CASE_COLUMNS, NUMBERS  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from engine import Gridflow, ManualClock, Period, Settings, User, tables  # noqa: E402

START = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # Thursday 09:00 in Beijing, after National Day
QUARTER = Period.quarter(2026, 4)


def worked_templates(gridflow: Gridflow, clock: ManualClock) -> None:
    with gridflow.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}

    def step(user: str, case_id: int, stage: str, fields: dict[str, Any]) -> None:
        [task] = [t for t in gridflow.inbox.tasks_for(users[user], stage=stage) if t["case_id"] == case_id]
        gridflow.runtime.complete_task(users[user], task["id"], fields)

    for number, (department, answer_after, rework) in enumerate(
        [("JD03", 1, False), ("JD03", 30, False), ("ZJJ", 2, True), ("CGJ", 5, False), ("HBJ", 3, False),
         ("JD01", 12, True), ("GAJ", 1, False), ("SYJ", 40, False), ("JD05", 4, False), ("KFQ", 2, False),
         ("FGJ", 8, True), ("GSJ", 1, False)]
    ):
        clock.set(START + timedelta(days=number))
        case_id = gridflow.runtime.report_case(
            users["collector03"],
            {"category": "SJ0502", "grid": "03-02", "description": "店外经营", "address": "人民路 18 号",
             "urgency": "normal", "channel": "collector"},
        )
        step("operator", case_id, "register", {"decision": "register"})
        step("dispatcher", case_id, "dispatch", {"department": department})
        handler = department.lower()
        if number % 4 == 3:  # returned first, then dispatched again to the same department
            step(handler, case_id, "handle", {"action": "return", "result": "退回"})
            step("dispatcher", case_id, "dispatch", {"department": department})
        clock.advance(timedelta(hours=answer_after))
        step(handler, case_id, "handle", {"action": "done", "result": "已处理"})
        clock.advance(timedelta(hours=1))
        step("collector03", case_id, "check", {"passed": not rework, "note": "现场仍有问题" if rework else None})
        if rework:
            clock.advance(timedelta(hours=2))
            step(handler, case_id, "handle", {"action": "done", "result": "已返工"})
            step("collector03", case_id, "check", {"passed": True})
        step("operator", case_id, "close", {})


def copy_cases(gridflow: Gridflow, total: int) -> None:
    """Copies of the worked cases (case row and audit events), over the 33 grids and 80 days."""
    numbers = NUMBERS
    with gridflow.db.begin() as db:
        templates = db.execute(text('SELECT count(*), max(id) FROM "case"')).one()
        count, base = int(templates[0]), int(templates[1])
        copies = total - count
        grids = [row[0] for row in db.execute(text("SELECT code FROM grid ORDER BY code"))]
        db.execute(text("CREATE TEMP TABLE grid_number (k INTEGER PRIMARY KEY, code TEXT)"))
        db.execute(text("INSERT INTO grid_number VALUES " + ", ".join(f"({k}, '{g}')" for k, g in enumerate(grids))))
        params = {"copies": copies, "base": base, "count": count, "grids": len(grids)}
        db.execute(
            text(
                numbers
                + f'INSERT INTO "case" ({CASE_COLUMNS}) '
                "SELECT :base + n.i, c.case_no || '-' || n.i, c.process_version_id, c.status, c.category_code, "
                "g.code, substr(g.code, 1, 2), c.department_code, c.address, c.description, c.urgency, c.channel, "
                "c.reporter_id, c.created_at, c.updated_at, c.closed_at, c.version "
                'FROM n JOIN "case" c ON c.id = 1 + n.i % :count JOIN grid_number g ON g.k = n.i % :grids'
            ),
            params,
        )
        db.execute(
            text(
                numbers
                + "INSERT INTO audit_event (at, actor, action, case_id, task, from_status, to_status, detail, "
                "department_code, outcome, deadline_state, working_seconds, overdue_seconds) "
                "SELECT datetime(e.at, '+' || (n.i % 70) || ' days'), e.actor, e.action, :base + n.i, e.task, "
                "e.from_status, e.to_status, e.detail, e.department_code, e.outcome, e.deadline_state, "
                "e.working_seconds, e.overdue_seconds FROM n JOIN audit_event e ON e.case_id = 1 + n.i % :count"
            ),
            params,
        )
        db.execute(text("ANALYZE"))


def slowest(ask: Callable[[], Any], rounds: int = 5) -> tuple[float, float]:
    timings = []
    for _ in range(rounds):
        begun = time.perf_counter()
        ask()
        timings.append(time.perf_counter() - begun)
    return max(timings), statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gridflow-assessment-"))
    clock = ManualClock(START)
    gridflow = Gridflow(Settings(f"sqlite:///{folder / 'assessment.db'}", clock=clock))
    gridflow.init(demo=True)
    worked_templates(gridflow, clock)
    begun = time.perf_counter()
    copy_cases(gridflow, args.cases)
    with gridflow.sessions() as session:
        events = session.scalar(select(func.count()).select_from(tables.AuditEvent))
    print(f"{args.cases:,} cases with {events:,} audit events (copied in {time.perf_counter() - begun:.1f} s)")
    figures: dict[str, Callable[[], Any]] = {
        "departments (quarter)": lambda: gridflow.assessment.departments(QUARTER),
        "grids with sampling (quarter)": lambda: gridflow.assessment.grids(
            QUARTER, gridflow.sampling.inspections(QUARTER.start, QUARTER.end)
        ),
        "collectors (quarter)": lambda: gridflow.assessment.collectors(QUARTER),
        "weekly trend (quarter)": lambda: gridflow.assessment.weekly(QUARTER),
        "quarterly scores and ranking": lambda: gridflow.assessment.quarterly_scores(2026, 4),
        "units flagged in the year (four quarters)": lambda: gridflow.assessment.flagged_units(2026),
        "a month's departments": lambda: gridflow.assessment.departments(Period.month(2026, 11)),
        "any range's grids (30 days)": lambda: gridflow.assessment.grids(Period(date(2026, 11, 1), date(2026, 12, 1))),
    }
    print("figure: slowest of 5 / median")
    for name, ask in figures.items():
        worst, median = slowest(ask)
        print(f"  {name}: {worst * 1000:.0f} ms / {median * 1000:.0f} ms")
    gridflow.close()


if __name__ == "__main__":
    main()
