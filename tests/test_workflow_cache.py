"""The workflows kept in memory between commands: used only at the case version they were saved
at, and never left changed by a command that failed."""
from __future__ import annotations

from typing import Any

import pytest

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from engine.errors import ProcessError

from .conftest import Api, local
from .test_time_limits import dispatched


def test_a_case_moved_on_by_another_process_is_read_again_not_taken_from_memory(
    api: Api, gridflow: Gridflow, database_url: str, clock: ManualClock
) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    api.complete("operator", case_id, "register", decision="register")  # this process keeps v2 in memory
    other = Gridflow(Settings(database_url, clock=clock))  # a second app process on the same database
    try:
        [row] = [t for t in other.inbox.tasks_for(_user_id(other, "dispatcher")) if t["case_id"] == case_id]
        other.runtime.complete_task(_user_id(other, "dispatcher"), row["id"], {"department": "JD03"})
    finally:
        other.close()
    # This process's copy is one step behind; the handle task it never saw must still work.
    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    api.complete("collector03", case_id, "check", passed=True)
    api.complete("operator", case_id, "close")
    assert api.case(case_id)["status"] == "closed"


def test_a_refused_answer_leaves_no_fired_timer_behind_and_the_next_one_records_it_once(
    api: Api, clock: ManualClock
) -> None:
    case_id = dispatched(api)
    clock.set(local("2026-11-26 10:00"))  # past the deadline; the refused command fires the timers first
    api.complete("jd03", case_id, "handle", expect=422, action="done")  # no result given
    history = api.case(case_id)["history"]
    assert [e["action"] for e in history if e["action"] == "timer"] == []
    assert api.task("jd03", case_id, "handle")["deadline_state"] == "normal"

    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    timers = [e["task"] for e in api.case(case_id)["history"] if e["action"] == "timer"]
    assert timers == ["handle_warning", "handle_overdue"]


def test_a_command_that_fails_after_the_task_ran_leaves_the_task_waiting(
    api: Api, gridflow: Gridflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    store = gridflow.runtime.store
    project = store.project

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "project", project)
        raise ProcessError("register: a diagram expression failed")

    monkeypatch.setattr(store, "project", fail_once)  # fails after SpiffWorkflow completed the task
    api.complete("operator", case_id, "register", expect=500, decision="register")
    assert api.case(case_id)["status"] == "registering"

    api.complete("operator", case_id, "register", decision="register")  # the same answer, again
    assert api.case(case_id)["status"] == "dispatching"


def _user_id(gridflow: Gridflow, username: str) -> int:
    user = gridflow.directory.authenticate(username, "demo")
    assert user is not None
    return user.id
