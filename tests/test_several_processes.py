"""Several app processes on one PostgreSQL: due timers are shared out between them and each
fires exactly once. Runs where PostgreSQL is configured (GRIDFLOW_TEST_POSTGRES_URL, as .ci/run
does); SQLite is one process by design."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from engine.storage.models import AuditEvent, User

from .conftest import POSTGRES_URL, START

ROOT = Path(__file__).resolve().parent.parent
FIRE = """
import sys
from datetime import datetime
sys.path.insert(0, {root!r})
from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
gridflow = Gridflow(Settings({url!r}, clock=ManualClock(datetime.fromisoformat({now!r}))))
print(gridflow.timers.fire_due())
"""


def dispatched_emergencies(gridflow: Gridflow, count: int) -> None:
    """Cases whose handling timers (warning, overdue, reminder, step-up) fall due together."""
    with gridflow.sessions() as session:
        users = {u.username: u.id for u in session.scalars(select(User))}
    for _ in range(count):
        case_id = gridflow.runtime.report_case(
            users["collector03"],
            {"category": "SJ0401", "grid": "03-01", "description": "路面塌陷", "address": "解放路",
             "urgency": "normal", "channel": "collector"},
        )
        for user, task, fields in (("operator", "register", {"decision": "register"}),
                                   ("dispatcher", "dispatch", {"department": "ZJJ"})):
            [row] = [t for t in gridflow.inbox.tasks_for(users[user], limit=10_000, stage=task)
                     if t["case_id"] == case_id]
            gridflow.runtime.complete_task(users[user], row["id"], fields)


if POSTGRES_URL:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_two_processes_fire_2000_due_timers_each_exactly_once(database_url: str) -> None:
        creator = Gridflow(Settings(database_url, clock=ManualClock(START)))
        dispatched_emergencies(creator, 500)
        creator.close()
        later = (START + timedelta(hours=3)).isoformat()  # all four handle timers are due
        script = FIRE.format(root=str(ROOT), url=database_url, now=later)
        processes = [
            subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)
        ]
        fired = [int(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in processes]
        assert all(p.returncode == 0 for p in processes)
        assert sum(fired) == 2000

        gridflow = Gridflow(Settings(database_url))
        with gridflow.sessions() as session:
            events = session.execute(
                select(AuditEvent.case_id, AuditEvent.task, func.count())
                .where(AuditEvent.action == "timer")
                .group_by(AuditEvent.case_id, AuditEvent.task)
            ).all()
        gridflow.close()
        assert len(events) == 2000
        assert {count for _, _, count in events} == {1}
        kinds = {"handle_warning", "handle_overdue", "handle_reminder", "handle_step_up"}
        assert {task for _, task, _ in events} == kinds
