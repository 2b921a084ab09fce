"""kill -9 in the middle of work. A real server process (waitress on SQLite; gunicorn with two
workers on PostgreSQL) takes a load of API calls and catches up on timers that fell due while it
was down; it is killed with SIGKILL mid-way and started again. Every call that was answered 2xx
must be in the database, case numbers stay unique, every workflow loads and agrees with its
rows, and the due timers fire, each once."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from engine.storage.models import AuditEvent, Case, CaseWorkflow, Task, Timer

from .conftest import Api
from .test_cli import free_port
from .test_several_processes import dispatched_emergencies

ROOT = Path(__file__).resolve().parent.parent
# Cases dispatched two weeks ago, so that all their handling timers are due: some before the
# first start (the scheduler catches up on them while the load runs), some while it is down.
SEEDED_BEFORE_START = 100  # 400 timers: the catch-up is likely still running at the kill
SEEDED_WHILE_DOWN = 20
ACKNOWLEDGED_BEFORE_KILL = 40
REPORT = {"category": "SJ0502", "grid": "03-02", "description": "店外经营", "address": "人民路 18 号",
          "urgency": "normal", "channel": "collector"}
STEPS = [("operator", "register", {"decision": "register"}),
         ("dispatcher", "dispatch", {"department": "JD03"}),
         ("jd03", "handle", {"action": "done", "result": "已清理"}),
         ("collector03", "check", {"passed": True}),
         ("operator", "close", {})]


class Server:
    def __init__(self, database_url: str, instance: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.env = os.environ | {
            "DATABASE_URL": database_url,
            "GRIDFLOW_INSTANCE": str(instance),
            "GRIDFLOW_TIMER_SWEEP_SECONDS": "1",
        }
        if database_url.startswith("postgresql"):  # the README's deployment: gunicorn, two workers
            self.command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4",
                            "-b", f"127.0.0.1:{self.port}", "app:wsgi()"]
        else:
            self.command = [sys.executable, "app.py", "serve", "--port", str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Its own process group, so that SIGKILL reaches gunicorn's workers as well as its master.
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:  # waiting for a process to come up is not a timed assertion
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail("the server did not come up")
                time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)

    def kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


class Client:
    """Calls the API and writes down every answer that came back 2xx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[str, str] = {}
        self.reported: list[tuple[int, str]] = []  # (case id, case number)
        self.completed: list[int] = []  # task ids
        self.refused: list[str] = []  # answers with an error status: none is expected
        self.lock = threading.Lock()

    def call(self, method: str, path: str, user: str | None, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def login(self, *users: str) -> None:
        for user in users:
            self.tokens[user] = self.call("POST", "/login", None, {"username": user, "password": "demo"})["token"]

    def lifecycles(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                case = self.call("POST", "/cases", "collector03", REPORT)
                with self.lock:
                    self.reported.append((case["id"], case["case_no"]))
                for user, stage, fields in STEPS:
                    [task] = [t for t in self.call("GET", f"/tasks?stage={stage}&q={case['case_no']}", user)
                              if t["case_id"] == case["id"]]
                    self.call("POST", f"/tasks/{task['id']}/complete", user, fields)
                    with self.lock:
                        self.completed.append(task["id"])
            except urllib.error.HTTPError as error:  # an answer, not a crash: a bug to report
                with self.lock:
                    self.refused.append(f"{error.code} {error.read()[:200]!r}")
                return
            except (OSError, http.client.HTTPException):  # the server died under this call: not acknowledged
                return

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.reported) + len(self.completed)


def test_calls_answered_before_a_kill_9_survive_it_and_due_timers_fire_once_after(
    database_url: str, tmp_path: Path
) -> None:
    dispatched_two_weeks_ago(database_url, SEEDED_BEFORE_START)

    server = Server(database_url, tmp_path / "instance")
    try:
        _load_kill_and_restart(server, database_url)
    finally:
        server.kill_if_running()


def _load_kill_and_restart(server: Server, database_url: str) -> None:
    server.start()
    client = Client(server.base)
    client.login("collector03", "operator", "dispatcher", "jd03")
    stop = threading.Event()
    workers = [threading.Thread(target=client.lifecycles, args=(stop,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    while client.acknowledged() < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # mid-way: workers are in the middle of calls, the scheduler of its catch-up
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
    assert client.acknowledged() >= ACKNOWLEDGED_BEFORE_KILL
    assert client.refused == []
    dispatched_two_weeks_ago(database_url, SEEDED_WHILE_DOWN)

    restarted_at = datetime.now(UTC)
    server.start()
    gridflow = Gridflow(Settings(database_url))
    try:
        deadline = time.monotonic() + 120
        while _due_waiting_timers(gridflow, restarted_at) and time.monotonic() < deadline:
            time.sleep(0.2)  # the restarted scheduler catches up on its own
        after = [client.call("POST", "/cases", "collector03", REPORT)["case_no"] for _ in range(3)]
        server.stop()
        assert _due_waiting_timers(gridflow, restarted_at) == 0

        with gridflow.sessions() as session:
            for case_id, case_no in client.reported:
                case = session.get(Case, case_id)
                assert case is not None and case.case_no == case_no
            for task_id in client.completed:
                task = session.get(Task, task_id)
                assert task is not None and task.state == "completed", task_id
            numbers = set(session.scalars(select(Case.case_no)))
            assert set(after) <= numbers and not set(after) & {no for _, no in client.reported}
            duplicates = session.execute(
                select(Case.case_no).group_by(Case.case_no).having(func.count() > 1)
            ).all()
            assert duplicates == []
            once_only = session.execute(
                select(AuditEvent.case_id, AuditEvent.task, func.count())
                .where(AuditEvent.action == "timer",
                       AuditEvent.task.in_(("handle_warning", "handle_overdue", "handle_step_up")))
                .group_by(AuditEvent.case_id, AuditEvent.task)
            ).all()
            assert len(once_only) == (SEEDED_BEFORE_START + SEEDED_WHILE_DOWN) * 3
            assert {count for _, _, count in once_only} == {1}
    finally:
        gridflow.close()

    check = subprocess.run([sys.executable, "app.py", "check"], cwd=ROOT, env=server.env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 problems" in check.stdout


def test_the_check_names_cases_whose_rows_or_workflow_went_wrong(api: Api, gridflow: Gridflow) -> None:
    rows_wrong = api.report("collector03", channel="collector")
    state_lost = api.report("collector03", channel="collector")
    assert gridflow.runtime.verify_cases() == (2, [])
    with gridflow.sessions.begin() as session:
        session.execute(update(Task).where(Task.case_id == rows_wrong["id"]).values(state="cancelled"))
        session.execute(update(CaseWorkflow).where(CaseWorkflow.case_id == state_lost["id"]).values(state="{"))
    checked, problems = gridflow.runtime.verify_cases()
    assert checked == 2
    assert problems[0].startswith(f"{rows_wrong['case_no']}: open task rows [] != workflow ['")
    assert problems[1].startswith(f"{state_lost['case_no']}: its workflow does not load")
    assert len(problems) == 2


def dispatched_two_weeks_ago(database_url: str, count: int) -> None:
    seeding = Gridflow(Settings(database_url, clock=ManualClock(datetime.now(UTC) - timedelta(days=14))))
    dispatched_emergencies(seeding, count)
    seeding.close()


def _due_waiting_timers(gridflow: Gridflow, by: datetime) -> int:
    with gridflow.sessions() as session:
        due = select(func.count()).where(Timer.state == "waiting", Timer.due_at <= by)
        return int(session.scalar(due) or 0)

