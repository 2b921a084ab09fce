"""限时办结 scenarios with an injected clock: warning, overdue, 督办, 催办 and step-up fire at the
instants the time limits table and the business calendar give, and only then."""
from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine import WORKFLOWS_DIR, Gridflow
from engine.cases.scheduler import TimerScheduler
from engine.deadlines.clock import ManualClock
from web import create_app

from .conftest import SHANGHAI, Api, local


def fire_at(gridflow: Gridflow, clock: ManualClock, when: str) -> int:
    clock.set(local(when))
    return gridflow.timers.fire_due()


def timer_events(api: Api, case_id: int) -> list[tuple[str, str | None, str]]:
    """(kind, the task it sits on, when in Beijing time) of every timer that fired."""
    return [
        (e["detail"]["kind"], e["detail"]["attached_task"], in_beijing(e["at"]))
        for e in api.case(case_id)["history"]
        if e["action"] == "timer"
    ]


def in_beijing(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def handle_task(api: Api, case_id: int, department: str = "jd03") -> dict[str, Any]:
    return api.task(department, case_id, "handle")


def dispatched(api: Api, **report: Any) -> int:
    case_id = api.report("collector03", channel="collector", **report)["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department=report.get("department", "JD03"))
    return case_id


def test_a_normal_case_warns_goes_overdue_is_supervised_reminded_and_stepped_up(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = dispatched(api)  # Wednesday 09:00: 1 working day, warning at 80 %
    handle = handle_task(api, case_id)
    assert datetime.fromisoformat(handle["due_at"]) == local("2026-11-26 09:00")
    assert handle["deadline_state"] == "normal"

    # The last 20 % of a working day (1.5 working hours) before Thursday 09:00 starts Wednesday 16:30.
    assert fire_at(gridflow, clock, "2026-11-25 16:29") == 0
    assert fire_at(gridflow, clock, "2026-11-25 16:30") == 1
    assert handle_task(api, case_id)["deadline_state"] == "warning"
    assert not api.has_task("leader", case_id)

    assert fire_at(gridflow, clock, "2026-11-26 09:00") == 1
    assert handle_task(api, case_id)["deadline_state"] == "overdue"
    supervise = api.task("leader", case_id, "supervise")
    assert supervise["title"] == "督办超期案件"
    assert api.case(case_id)["status"] == "handling"

    # 催办 every 2 working hours after the deadline: 11:00, then 14:30 over lunch.
    assert fire_at(gridflow, clock, "2026-11-26 10:59") == 0
    assert fire_at(gridflow, clock, "2026-11-26 11:00") == 1
    assert fire_at(gridflow, clock, "2026-11-26 14:30") == 1
    api.complete("leader", case_id, "supervise", instruction="请西城街道今日内清理完毕")

    # One working day past the deadline the case goes up to the leader (and 16:30's reminder fires).
    assert fire_at(gridflow, clock, "2026-11-27 09:00") == 2
    step_up = api.task("leader", case_id, "step_up")
    assert step_up["title"] == "升级督办（超期未办结）"

    done = api.complete("jd03", case_id, "handle", action="done", result="已清理")
    assert done["status"] == "checking"
    assert not api.has_task("leader", case_id, "step_up")  # withdrawn: handling finished
    # After handling no reminder comes; only the check stage's own limit runs (4 working hours).
    assert fire_at(gridflow, clock, "2026-11-30 17:00") == 2
    assert timer_events(api, case_id) == [
        ("warning", "handle", "11-25 16:30"),
        ("overdue", "handle", "11-26 09:00"),
        ("reminder", "handle", "11-26 11:00"),
        ("reminder", "handle", "11-26 14:30"),
        ("reminder", "handle", "11-27 09:00"),
        ("step_up", "handle", "11-27 09:00"),
        ("warning", "check", "11-30 17:00"),
        ("overdue", "check", "11-30 17:00"),
    ]
    timers = [e for e in api.case(case_id)["history"] if e["action"] == "timer"]
    reminder = next(e for e in timers if e["detail"]["kind"] == "reminder")
    assert reminder["detail"]["department"] == "JD03"
    assert reminder["actor"] == "system"


def test_an_urgent_case_runs_on_working_hours(api: Api, gridflow: Gridflow, clock: ManualClock) -> None:
    clock.set(local("2026-11-27 16:30"))  # Friday afternoon
    case_id = dispatched(api, urgency="urgent")
    assert datetime.fromisoformat(handle_task(api, case_id)["due_at"]) == local("2026-11-30 09:30")
    # Warning at 75 %: 30 working minutes before Monday 09:30.
    assert fire_at(gridflow, clock, "2026-11-29 23:59") == 0
    assert fire_at(gridflow, clock, "2026-11-30 09:00") == 1
    assert fire_at(gridflow, clock, "2026-11-30 09:30") == 1
    assert api.task("leader", case_id, "supervise")
    assert fire_at(gridflow, clock, "2026-11-30 11:30") == 2  # reminder at 10:30 (1 h), step-up at 11:30 (2 h)
    assert [kind for kind, _, _ in timer_events(api, case_id)] == ["warning", "overdue", "reminder", "step_up"]


def test_an_emergency_runs_on_natural_time(api: Api, gridflow: Gridflow, clock: ManualClock) -> None:
    clock.set(local("2026-11-27 16:30"))
    case_id = dispatched(api, category="SJ0401", department="ZJJ")  # 路面塌陷
    handle = api.task("zjj", case_id, "handle")
    assert datetime.fromisoformat(handle["due_at"]) == local("2026-11-27 18:30")
    assert fire_at(gridflow, clock, "2026-11-27 17:30") == 1  # warning at half the limit
    assert fire_at(gridflow, clock, "2026-11-27 18:30") == 1  # overdue on a Friday evening
    # Reminders were due at 19:00 and 19:30: a late scheduler fires a cycle once, not in a burst.
    assert fire_at(gridflow, clock, "2026-11-27 19:30") == 2  # that reminder and the step-up
    assert timer_events(api, case_id) == [
        ("warning", "handle", "11-27 17:30"),
        ("overdue", "handle", "11-27 18:30"),
        ("reminder", "handle", "11-27 19:30"),
        ("step_up", "handle", "11-27 19:30"),
    ]
    assert api.task("leader", case_id, "supervise")
    assert api.task("leader", case_id, "step_up")["title"] == "升级督办（超期未办结）"


def test_every_stage_warns_and_goes_overdue_but_only_handling_escalates(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = api.report(grid="03-02")["id"]  # hotline: verify within 2 working hours
    verify = api.task("collector03", case_id, "verify")
    assert datetime.fromisoformat(verify["due_at"]) == local("2026-11-25 11:00")
    assert fire_at(gridflow, clock, "2026-11-25 11:00") == 2  # warning (10:36) and overdue together
    assert api.task("collector03", case_id, "verify")["deadline_state"] == "overdue"
    assert not api.has_task("leader", case_id)
    api.complete("collector03", case_id, "verify", found=True)
    register = api.task("operator", case_id, "register")
    assert register["deadline_state"] == "normal"
    assert datetime.fromisoformat(register["due_at"]) == local("2026-11-25 12:00")


def test_an_approved_extension_moves_the_deadline_and_its_timers(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = dispatched(api)
    assert fire_at(gridflow, clock, "2026-11-25 16:30") == 1  # warning
    api.complete("jd03", case_id, "handle", action="extend", extend_by="P2D", result="需协调商户")
    api.complete("leader", case_id, "approve_extension", approved=True)
    handle = handle_task(api, case_id)
    assert datetime.fromisoformat(handle["due_at"]) == local("2026-11-30 09:00")
    assert handle["deadline_state"] == "normal"
    assert fire_at(gridflow, clock, "2026-11-26 09:00") == 0  # the old deadline no longer fires
    assert fire_at(gridflow, clock, "2026-11-27 16:30") == 1  # warning before the new one
    assert fire_at(gridflow, clock, "2026-11-30 09:00") == 1
    assert [(kind, when) for kind, _, when in timer_events(api, case_id)] == [
        ("warning", "11-25 16:30"),
        ("warning", "11-27 16:30"),
        ("overdue", "11-30 09:00"),
    ]
    deadlines = [
        (e["task"], o["due_at"]) for e in api.case(case_id)["history"] for o in e["detail"].get("opened", [])
        if o["task"] == "handle"
    ]
    assert [datetime.fromisoformat(due) for _, due in deadlines] == [
        local("2026-11-26 09:00"),
        local("2026-11-30 09:00"),
    ]


def test_a_case_handled_in_time_never_warns(api: Api, gridflow: Gridflow, clock: ManualClock) -> None:
    case_id = dispatched(api)
    clock.advance(timedelta(hours=3))
    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    api.complete("collector03", case_id, "check", passed=True)
    api.complete("operator", case_id, "close")
    assert fire_at(gridflow, clock, "2026-12-31 09:00") == 0
    assert timer_events(api, case_id) == []
    with gridflow.sessions() as session:
        from engine.storage.models import Timer

        states = {t.state for t in session.query(Timer).filter_by(case_id=case_id)}
    assert states == {"cancelled"}


def test_timers_that_fell_due_while_the_service_was_down_fire_once_on_start(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    def start_app() -> Flask:
        return create_app(
            {
                "DATABASE_URL": database_url,
                "CLOCK": clock,
                "SECRET_KEY": "test",
                "TESTING": True,
                "INSTANCE_PATH": str(tmp_path / "instance"),
            }
        )

    before = start_app()
    api = Api(before.test_client())
    case_id = dispatched(api)
    before.extensions["gridflow"].close()

    # Down from Wednesday 09:00 until Friday 09:00: the warning, the deadline, reminders and the
    # step-up all fell due meanwhile.
    clock.set(local("2026-11-27 09:00"))
    for _ in range(2):  # the second start finds nothing left to fire
        after = start_app()
        gridflow: Gridflow = after.extensions["gridflow"]
        gridflow.timers.start()  # the real APScheduler; its first sweep runs at once
        try:
            wait_for(lambda timers=gridflow.timers: nothing_due(timers, clock))
        finally:
            gridflow.close()
        api = Api(after.test_client())
        assert [kind for kind, _, _ in timer_events(api, case_id)] == ["warning", "overdue", "reminder", "step_up"]
    assert api.task("leader", case_id, "supervise")
    assert api.task("leader", case_id, "step_up")


def nothing_due(timers: TimerScheduler, clock: ManualClock) -> bool:
    next_due = timers.next_due()
    return next_due is not None and next_due > clock.now()


def wait_for(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Wait for the scheduler's thread: a bounded wait for real work, not a timed assertion."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the scheduler did not fire the due timers")
        time.sleep(0.02)


def test_a_changed_table_and_one_escalation_step_fewer_reach_new_cases_only(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    old_case = dispatched(api)
    table = (WORKFLOWS_DIR / "time_limits.dmn").read_text(encoding="utf-8")
    shorter = table.replace(
        '<outputEntry id="time_limits_normal_out4"><text>"P1D"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out4"><text>"PT4H"</text></outputEntry>',
    )
    diagram = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text(encoding="utf-8")
    no_step_up = re.sub(r'\s*<bpmn:boundaryEvent id="handle_step_up".*?</bpmn:boundaryEvent>', "", diagram, flags=re.S)
    no_step_up = no_step_up.replace(
        '<bpmn:sequenceFlow id="f_handle_step_up" sourceRef="handle_step_up" targetRef="step_up" />', ""
    )
    no_step_up = no_step_up.replace("<bpmn:incoming>f_handle_step_up</bpmn:incoming>", "")
    assert shorter != table and no_step_up.count("handle_step_up") < diagram.count("handle_step_up")
    for name, text in (("time_limits.dmn", shorter), ("case_lifecycle.bpmn", no_step_up)):
        api.call(
            "POST", "/api/definitions", "admin", 201,
            data={"file": (io.BytesIO(text.encode("utf-8")), name)}, content_type="multipart/form-data",
        )

    new_case = dispatched(api)
    assert datetime.fromisoformat(handle_task(api, new_case)["due_at"]) == local("2026-11-25 14:30")
    assert datetime.fromisoformat(handle_task(api, old_case)["due_at"]) == local("2026-11-26 09:00")
    fire_at(gridflow, clock, "2026-11-30 09:00")
    assert "step_up" in [kind for kind, _, _ in timer_events(api, old_case)]
    assert "step_up" not in [kind for kind, _, _ in timer_events(api, new_case)]
    assert "overdue" in [kind for kind, _, _ in timer_events(api, new_case)]


def test_an_extension_refused_after_the_deadline_is_overdue_once_with_one_supervise_task(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = dispatched(api)
    assert fire_at(gridflow, clock, "2026-11-26 09:00") == 2  # warning and overdue
    assert api.task("leader", case_id, "supervise")
    api.complete("jd03", case_id, "handle", action="extend", extend_by="P1D", result="需协调")
    # The department answered: the 督办 is withdrawn; the approval task runs on the same deadline.
    approval = api.task("leader", case_id, "approve_extension")
    assert not api.has_task("leader", case_id, "supervise")
    assert datetime.fromisoformat(approval["due_at"]) == local("2026-11-26 09:00")
    assert approval["deadline_state"] == "overdue"

    api.complete("leader", case_id, "approve_extension", approved=False)
    handle = handle_task(api, case_id)
    assert datetime.fromisoformat(handle["due_at"]) == local("2026-11-26 09:00")
    assert handle["deadline_state"] == "overdue"
    assert len([t for t in api.inbox("leader") if t["task"] == "supervise"]) == 1  # 督办 again, once
    kinds = [kind for kind, _, _ in timer_events(api, case_id)]
    assert kinds.count("overdue") == 1 and kinds.count("warning") == 1


@pytest.mark.parametrize(
    ("stage", "user", "warning", "deadline"),
    [
        ("register", "operator", "2026-11-25 09:48", "2026-11-25 10:00"),  # PT1H, warning at 80 %
        ("dispatch", "dispatcher", "2026-11-25 09:48", "2026-11-25 10:00"),
        ("check", "collector03", "2026-11-25 13:42", "2026-11-25 14:30"),  # PT4H over lunch
        ("close", "operator", "2026-11-25 10:36", "2026-11-25 11:00"),  # PT2H
    ],
)
def test_each_stage_turns_yellow_then_red_at_its_own_limit(
    api: Api, gridflow: Gridflow, clock: ManualClock, stage: str, user: str, warning: str, deadline: str
) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    steps = [
        ("register", "operator", {"decision": "register"}),
        ("dispatch", "dispatcher", {"department": "JD03"}),
        ("handle", "jd03", {"action": "done", "result": "已处置"}),
        ("check", "collector03", {"passed": True}),
    ]
    for name, who, fields in steps:
        if name == stage:
            break
        api.complete(who, case_id, name, **fields)
    task = api.task(user, case_id, stage)
    assert datetime.fromisoformat(task["due_at"]) == local(deadline)
    warning_at = local(warning)
    assert fire_at(gridflow, clock, (warning_at - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")) == 0
    assert fire_at(gridflow, clock, warning) == 1
    assert api.task(user, case_id, stage)["deadline_state"] == "warning"
    assert fire_at(gridflow, clock, deadline) == 1
    assert api.task(user, case_id, stage)["deadline_state"] == "overdue"
    assert not api.has_task("leader", case_id)  # only handling escalates to the leader
    assert [(kind, task) for kind, task, _ in timer_events(api, case_id)] == [
        ("warning", stage),
        ("overdue", stage),
    ]


def test_a_zero_interval_in_the_table_is_refused_at_deploy(api: Api) -> None:
    table = (WORKFLOWS_DIR / "time_limits.dmn").read_text(encoding="utf-8")
    broken = table.replace(
        '<outputEntry id="time_limits_normal_out8"><text>"PT2H"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out8"><text>"PT0M"</text></outputEntry>',
    )
    assert broken != table
    refused = api.call(
        "POST", "/api/definitions", "admin", 422,
        data={"file": (io.BytesIO(broken.encode("utf-8")), "time_limits.dmn")}, content_type="multipart/form-data",
    )
    assert "reminder_interval" in refused["error"] and "longer than zero" in refused["error"]


def test_a_timer_the_diagram_cannot_fire_is_set_aside_not_retried_in_a_loop(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    diagram = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text(encoding="utf-8")
    # The warning path of handle runs a script that fails only when the warning fires.
    broken = re.sub(
        r'<bpmn:endEvent id="handle_warned" name="">\s*'
        r"<bpmn:incoming>f_handle_warning</bpmn:incoming>\s*</bpmn:endEvent>",
        '<bpmn:scriptTask id="handle_warned" name="通知"><bpmn:incoming>f_handle_warning</bpmn:incoming>'
        "<bpmn:script>notified = 1 / 0</bpmn:script></bpmn:scriptTask>",
        diagram,
    )
    assert broken != diagram
    api.call(
        "POST", "/api/definitions", "admin", 201,
        data={"file": (io.BytesIO(broken.encode("utf-8")), "case_lifecycle.bpmn")}, content_type="multipart/form-data",
    )
    case_id = dispatched(api)
    assert fire_at(gridflow, clock, "2026-11-25 16:30") == 0
    failures = [e for e in api.case(case_id)["history"] if e["action"] == "timer_failed"]
    assert len(failures) == 1
    assert failures[0]["detail"]["timers"] == ["handle_warning"]
    assert "division by zero" in failures[0]["detail"]["error"]
    assert gridflow.timers.next_due() is None or gridflow.timers.next_due() > clock.now()
    assert fire_at(gridflow, clock, "2026-11-25 16:35") == 0
    assert len([e for e in api.case(case_id)["history"] if e["action"] == "timer_failed"]) == 1


def test_a_late_answer_before_the_scheduler_woke_is_still_recorded_overdue(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = dispatched(api)
    clock.set(local("2026-11-26 10:00"))  # past the deadline; no scheduler has fired anything yet
    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    history = api.case(case_id)["history"]
    assert [(e["action"], e["task"]) for e in history[-3:]] == [
        ("timer", "handle_warning"),
        ("timer", "handle_overdue"),
        ("complete", "handle"),
    ]
    assert not api.has_task("leader", case_id)  # the 督办 it opened was withdrawn by the answer
