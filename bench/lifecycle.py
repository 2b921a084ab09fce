"""Lifecycle benchmark: prints figures for the README (issue 8's first measurements).

    python bench/lifecycle.py [--cases 200] [--open 100000] [--postgres URL]

- cases/s for the straight lifecycle (report, register, dispatch, handle, check, close) with
  SpiffWorkflow alone in memory, on the same diagram and script engine;
- the same through the engine on SQLite (and on PostgreSQL with --postgres), each step one
  transaction, with p50 / p95 of one task completion;
- p95 of an inbox query with --open open cases in the database (copies made with SQL);
- the process's peak RSS;
- where one command's time goes on SQLite: SpiffWorkflow, serializing the state, projecting
  rows, and the rest (SQL through SQLAlchemy, commit, input checks), with the rate the engine
  would reach if that rest cost nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from cases_by_sql import copy_case  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine import Gridflow, ManualClock, Settings, User, tables  # noqa: E402

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Beijing
REPORT = {"category": "BJ0101", "grid": "03-01", "description": "井盖缺失", "address": "解放路 3 号",
          "urgency": "normal", "channel": "collector"}
STEPS = [("operator", "register", {"decision": "register", "reason": None}),
         ("dispatcher", "dispatch", {"department": "ZJJ"}),
         ("zjj", "handle", {"action": "done", "result": "已更换", "extend_by": None}),
         ("collector03", "check", {"passed": True, "note": None}),
         ("operator", "close", {})]


def in_memory(gridflow: Gridflow, cases: int) -> float:
    """SpiffWorkflow alone: the same parsed spec and script engine, no database."""
    with gridflow.sessions() as session:
        version = session.scalar(select(tables.ProcessVersion).order_by(tables.ProcessVersion.version.desc()))
        assert version is not None
        spec, subprocess_specs = gridflow.repository.specs(session, version.id)
    script_engine = gridflow.script_engine  # the engine's own, for the same timers
    data = {"category": "BJ0101", "owner_department": "ZJJ", "limit_class": "normal", "emergency": False,
            "grid": "03-01", "zone": "03", "territory_department": "JD03", "urgency": "normal",
            "channel": "collector", "case_no": "x", "category_name": "x", "family": "component", "class_code": "01"}
    started = time.perf_counter()
    for _ in range(cases):
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
        workflow.do_engine_steps()
        for _, task, fields in STEPS:
            [ready] = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == task]
            ready.data.update(fields)
            ready.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()
    return cases / (time.perf_counter() - started)


def through_engine(gridflow: Gridflow, cases: int) -> tuple[float, list[float]]:
    with gridflow.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}
    completions: list[float] = []
    in_commands = 0.0  # only the engine's commands count, not the benchmark finding task ids
    for _ in range(cases):
        begun = time.perf_counter()
        case_id = gridflow.runtime.report_case(users["collector03"], REPORT)
        in_commands += time.perf_counter() - begun
        for user, task, fields in STEPS:
            [row] = [t for t in gridflow.inbox.tasks_for(users[user], stage=task) if t["case_id"] == case_id]
            begun = time.perf_counter()
            gridflow.runtime.complete_task(users[user], row["id"], {k: v for k, v in fields.items() if v is not None})
            completions.append(time.perf_counter() - begun)
            in_commands += completions[-1]
    return cases / in_commands, completions


@contextlib.contextmanager
def timed(gridflow: Gridflow, spent: dict[str, float]) -> Iterator[None]:
    """Adds up the time the engine's commands spend in SpiffWorkflow, in serializing the
    workflow state and in projecting rows, by wrapping those three on this engine's own objects
    (the runtime's store and the codec) for the duration."""
    def wrapped(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def measure(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - begun
        return measure

    store, codec = gridflow.runtime.store, gridflow.codec
    store.run = wrapped("SpiffWorkflow", store.run)  # type: ignore[method-assign]
    codec.state_to_json = wrapped("serializing the state", codec.state_to_json)  # type: ignore[method-assign]
    store.project = wrapped("projecting rows", store.project)
    try:
        yield
    finally:
        del store.run, codec.state_to_json  # the classes' own methods again
        store.project = store.project.__wrapped__  # type: ignore[attr-defined]


def where_time_goes(gridflow: Gridflow, cases: int, memory_rate: float) -> str:
    spent: dict[str, float] = {}
    with timed(gridflow, spent):
        rate, _ = through_engine(gridflow, cases)
    commands = cases * (len(STEPS) + 1)
    total = cases / rate
    rest = total - sum(spent.values())
    parts = ", ".join(f"{label} {seconds / commands * 1000:.2f} ms" for label, seconds in spent.items())
    free = cases / (total - rest)
    return (f"one command on SQLite: {parts}, the rest (SQL through SQLAlchemy, commit, input checks, audit "
            f"figures) {rest / commands * 1000:.2f} ms; were the rest free (an upper bound): {free:.0f} cases/s "
            f"({free / memory_rate:.0%})")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def inbox_query(gridflow: Gridflow, open_cases: int) -> tuple[int, float]:
    with gridflow.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}
    template = gridflow.runtime.report_case(users["collector03"], REPORT)  # waits in register
    copy_case(gridflow, template, open_cases - 1)
    timings = []
    for _ in range(50):
        begun = time.perf_counter()
        gridflow.inbox.tasks_for(users["operator"], limit=50)
        timings.append(time.perf_counter() - begun)
    return open_cases, percentile(timings, 0.95)


def engine_at(url: str) -> Gridflow:
    gridflow = Gridflow(Settings(url, clock=ManualClock(NOW)))
    gridflow.init(demo=True)
    return gridflow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL to measure on as well")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gridflow-lifecycle-"))

    sqlite = engine_at(f"sqlite:///{folder / 'lifecycle.db'}")
    memory_rate = in_memory(sqlite, args.cases)
    print(f"SpiffWorkflow alone, in memory: {memory_rate:.0f} cases/s (6 steps each)")
    backends = [("SQLite", sqlite)] + ([("PostgreSQL", engine_at(args.postgres))] if args.postgres else [])
    for name, gridflow in backends:
        rate, completions = through_engine(gridflow, args.cases)
        print(f"engine on {name}: {rate:.0f} cases/s ({rate / memory_rate:.0%} of in memory); one task completion "
              f"p50 {statistics.median(completions) * 1000:.1f} ms, p95 {percentile(completions, 0.95) * 1000:.1f} ms")
    print(where_time_goes(sqlite, args.cases, memory_rate))
    count, p95 = inbox_query(sqlite, args.open)
    print(f"inbox query (50 nearest of {count:,} open cases) on SQLite: p95 {p95 * 1000:.1f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
