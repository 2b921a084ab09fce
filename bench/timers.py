"""tables.Timer benchmark: prints figures for the README.

    python bench/timers.py [--waiting 100000] [--burst 200] [--catch-up 10000]

1. fills the timer table with --waiting waiting timers (real cases: one made through the engine,
   the rest copied from it with SQL, each with its own workflow state and rows);
2. a burst: --burst cases whose timers all fall due in the same second, fired by the real
   APScheduler; prints the lag between each due instant and its firing (p50, p99);
3. a restart: --catch-up timers that fell due while the service was down, fired when the
   scheduler starts; prints how long until none is left.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases_by_sql import copy_case  # noqa: E402

from engine import Gridflow, ManualClock, Settings, SystemClock, User, tables  # noqa: E402

EMERGENCY = "SJ0401"  # natural time: warning 1 h, overdue 2 h, reminders every 30 min, step-up 1 h later
NORMAL = "BJ0101"


def dispatched_case(gridflow: Gridflow, users: dict[str, int], category: str) -> int:
    runtime = gridflow.runtime
    case_id = runtime.report_case(
        users["collector03"],
        {
            "category": category,
            "grid": "03-01",
            "description": "基准测试案件",
            "address": "测试路 1 号",
            "urgency": "normal",
            "channel": "collector",
        },
    )
    for user, task, fields in (
        ("operator", "register", {"decision": "register"}),
        ("dispatcher", "dispatch", {"department": "ZJJ"}),
    ):
        [row] = [t for t in gridflow.inbox.tasks_for(users[user], limit=100000) if t["case_id"] == case_id]
        assert row["task"] == task
        runtime.complete_task(users[user], row["id"], fields)
    return case_id


def waiting_timers(gridflow: Gridflow, due_before: datetime | None = None) -> int:
    query = select(func.count()).select_from(tables.Timer).where(tables.Timer.state == "waiting")
    if due_before is not None:
        query = query.where(tables.Timer.due_at <= due_before)
    with gridflow.sessions() as session:
        return int(session.scalar(query) or 0)


def engine_at(url: str, clock: ManualClock | SystemClock) -> Gridflow:
    return Gridflow(Settings(url, clock=clock))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--catch-up", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="gridflow-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    now = datetime.now(UTC)

    setup = engine_at(url, ManualClock(now))
    setup.init(demo=True)
    with setup.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}

    # 1. The table full of waiting timers, none due during the run.
    started = time.perf_counter()
    template = dispatched_case(setup, users, NORMAL)
    per_case = waiting_timers(setup)
    copy_case(setup, template, max(0, args.waiting // per_case - 1))
    print(f"waiting timers in the table: {waiting_timers(setup):,} ({per_case} per case, "
          f"filled in {time.perf_counter() - started:.1f} s)")

    # 3 (prepared first). Timers that fell due while the service was down: cases from yesterday.
    down_since = ManualClock(now - timedelta(days=1))
    setup.close()
    yesterday = engine_at(url, down_since)
    before = waiting_timers(yesterday)
    stale = dispatched_case(yesterday, users, EMERGENCY)
    per_stale_case = waiting_timers(yesterday) - before
    copy_case(yesterday, stale, max(0, args.catch_up // per_stale_case - 1))
    yesterday.close()

    service = engine_at(url, SystemClock())
    due_now = waiting_timers(service, datetime.now(UTC))
    started = time.perf_counter()
    service.timers.start()  # its first sweep is the restart's catch-up
    while waiting_timers(service, datetime.now(UTC)) > 0:
        time.sleep(0.05)
    catch_up = time.perf_counter() - started
    print(f"catch-up after a restart: {due_now:,} due timers ({due_now // per_stale_case:,} cases) fired in "
          f"{catch_up:.1f} s ({due_now / catch_up:,.0f} timers/s)")

    # 2. A burst: cases whose warnings all fall due in the same second, a few seconds from now.
    burst_at = datetime.now(UTC) + timedelta(seconds=5 + args.burst * 0.06)
    creator = engine_at(url, ManualClock(burst_at - timedelta(hours=1)))
    burst_cases = [dispatched_case(creator, users, EMERGENCY) for _ in range(args.burst)]
    creator.close()
    if datetime.now(UTC) > burst_at:
        raise SystemExit("creating the burst took longer than planned; the lag figures would be wrong")
    # In one process the commands that create timers move the scheduler's job themselves; here a
    # second engine (with a clock of its own, to place the deadlines) made them, so move it by hand.
    service.timers.schedule_next()
    while datetime.now(UTC) < burst_at + timedelta(seconds=1):
        time.sleep(0.05)
    while waiting_timers(service, datetime.now(UTC)) > 0:
        time.sleep(0.05)
    service.close()
    with service.sessions() as session:
        Timer = tables.Timer
        rows = session.execute(
            select(Timer.due_at, Timer.fired_at).where(
                Timer.case_id.in_(burst_cases), Timer.attached_task == "handle", Timer.kind == "warning"
            )
        ).all()
    lags = [(fired - due).total_seconds() for due, fired in rows]
    print(f"burst of {len(lags)} timers due in the same second: lag p50 {statistics.median(lags):.3f} s, "
          f"p99 {percentile(lags, 0.99):.3f} s, max {max(lags):.3f} s")


if __name__ == "__main__":
    main()
