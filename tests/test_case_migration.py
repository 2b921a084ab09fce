"""Moving running cases to a newer version of their process, and the diff between versions:
a moved case keeps its task, claim and deadlines and goes on to the end on the new diagram; a
case whose current task is gone is reported with the reason and left exactly as it was; a dry
run changes nothing."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine import Gridflow
from engine.deadlines.clock import ManualClock
from engine.storage.models import AuditEvent, Case, CaseWorkflow, Task, Timer

from .conftest import Api, local
from .test_definitions import LIFECYCLE, TIME_LIMITS, upload, walk_to_close, with_archive_step
from .test_time_limits import dispatched, fire_at

NEW_HANDLE_TITLE = "处置案件（请附处置照片）"


def with_new_handle_title(bpmn: str) -> str:
    changed = bpmn.replace(
        '<spiffworkflow:property name="title" value="处置案件" />',
        f'<spiffworkflow:property name="title" value="{NEW_HANDLE_TITLE}" />',
    )
    assert changed != bpmn
    return changed


def without_verify(bpmn: str) -> str:
    """The lifecycle without 核实: every report goes straight to register (立案)."""
    changed = bpmn.replace('sourceRef="gw_channel" targetRef="verify"', 'sourceRef="gw_channel" targetRef="register"')
    changed = re.sub(r'<bpmn:userTask id="verify".*?</bpmn:userTask>', "", changed, flags=re.S)
    changed = re.sub(r'<bpmn:boundaryEvent id="verify_\w+".*?</bpmn:boundaryEvent>', "", changed, flags=re.S)
    changed = re.sub(r'<bpmn:endEvent id="verify_(warned|overdue_noted)".*?</bpmn:endEvent>', "", changed, flags=re.S)
    changed = re.sub(r'<bpmn:sequenceFlow id="f_verif(y_warning|y_overdue|ied)"[^>]*/>', "", changed)
    changed = changed.replace("<bpmn:incoming>f_verified</bpmn:incoming>", "")
    changed = re.sub(r"<bpmn:flowNodeRef>verify\w*</bpmn:flowNodeRef>", "", changed)
    changed = re.sub(
        r'<bpmndi:BPMN(?:Shape|Edge) id="\w+" bpmnElement="(?:verify|f_verif)\w*".*?</bpmndi:BPMN(?:Shape|Edge)>',
        "",
        changed,
        flags=re.S,
    )
    assert 'id="verify"' not in changed
    return changed


def migrate(api: Api, expect: int = 200, user: str = "admin", **body: Any) -> Any:
    return api.call("POST", "/api/definitions/case_lifecycle/migrations", user, expect, json=body)


def moved(report: dict[str, Any]) -> list[int]:
    return [c["case_id"] for c in report["migrated"]]


def refused(report: dict[str, Any]) -> dict[int, list[str]]:
    return {c["case_id"]: c["reasons"] for c in report["not_migrated"]}


def rows(gridflow: Gridflow, case_id: int) -> dict[str, Any]:
    """Everything the database holds of a case, to show that nothing changed."""
    with gridflow.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return {
            "case": (case.version, case.status, case.process_version_id, case.updated_at, case.department_code),
            "state": session.get(CaseWorkflow, case_id).state,  # type: ignore[union-attr]
            "tasks": [
                (t.id, t.spiff_task_id, t.task, t.title, t.role, t.state, t.assignee_id, t.due_at, t.deadline_state)
                for t in session.scalars(select(Task).where(Task.case_id == case_id).order_by(Task.id))
            ],
            "timers": [
                (t.id, t.event, t.kind, t.state, t.due_at, t.fired_count)
                for t in session.scalars(select(Timer).where(Timer.case_id == case_id).order_by(Timer.id))
            ],
            "events": session.scalar(select(func.count()).where(AuditEvent.case_id == case_id)),
        }


def test_a_running_case_moves_to_the_new_version_and_goes_on_to_the_end_there(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    case_id = dispatched(api)  # Wednesday 09:00: handling due Thursday 09:00, warning at 16:30
    assert fire_at(gridflow, clock, "2026-11-25 16:30") == 1  # the handle task turned yellow on version 1
    api.call("POST", f"/api/tasks/{api.task('jd03', case_id, 'handle')['id']}/claim", "jd03")
    before = api.task("jd03", case_id, "handle")
    upload(api, "case_lifecycle.bpmn", with_archive_step(with_new_handle_title(LIFECYCLE)), 201)

    unchanged = rows(gridflow, case_id)
    dry = migrate(api, from_version=1, to_version=2, dry_run=True)
    assert dry["dry_run"] is True
    assert moved(dry) == [case_id] and dry["migrated"][0]["waiting_on"] == ["handle"]
    assert refused(dry) == {}
    assert rows(gridflow, case_id) == unchanged  # a dry run stores nothing

    done = migrate(api, from_version=1, to_version=2, case_ids=[case_id], dry_run=False)
    assert (moved(done), refused(done)) == ([case_id], {})
    case = api.case(case_id)
    assert (case["process"]["version"], case["status"], case["version"]) == (2, "handling", unchanged["case"][0] + 1)
    event = case["history"][-1]
    assert (event["action"], event["actor"], event["from_status"], event["to_status"]) == (
        "migrate", "admin", "handling", "handling"
    )
    assert (event["detail"]["from_version"], event["detail"]["to_version"]) == (1, 2)
    assert event["detail"]["updated"][0]["changes"] == {"title": ["处置案件", NEW_HANDLE_TITLE]}
    # The same task, still claimed, yellow, with the deadline it was given; only its title is new.
    after = api.task("jd03", case_id, "handle")
    assert after["title"] == NEW_HANDLE_TITLE
    for kept in ("id", "assignee_id", "due_at", "deadline_state", "created_at"):
        assert after[kept] == before[kept], kept
    assert after["deadline_state"] == "warning"

    # Its timers go on from the instants they were set for.
    assert fire_at(gridflow, clock, "2026-11-26 08:59") == 0
    assert fire_at(gridflow, clock, "2026-11-26 09:00") == 1  # overdue: red, and 督办 for the leader
    assert api.task("jd03", case_id, "handle")["deadline_state"] == "overdue"
    assert api.has_task("leader", case_id, "supervise")
    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    assert not api.has_task("leader", case_id, "supervise")  # withdrawn by the signal, as on version 1
    api.complete("collector03", case_id, "check", passed=True)
    assert api.complete("operator", case_id, "close")["status"] == "archiving"  # the step version 2 added
    assert api.complete("operator", case_id, "archive", shelf="A-03")["status"] == "closed"
    assert gridflow.runtime.verify_cases()[1] == []


def test_a_case_whose_current_task_was_removed_is_reported_and_left_as_it_was(
    api: Api, gridflow: Gridflow
) -> None:
    at_verify = api.report("operator", channel="hotline")["id"]  # waits on 核实
    at_register = api.report("collector03", channel="collector")["id"]  # went straight to 立案
    upload(api, "case_lifecycle.bpmn", without_verify(LIFECYCLE), 201)
    before = {case_id: rows(gridflow, case_id) for case_id in (at_verify, at_register)}

    dry = migrate(api, from_version=1, to_version=2, dry_run=True)
    assert moved(dry) == [at_register]
    assert "task verify removed: the case waits on it" in refused(dry)[at_verify]
    assert dry["not_migrated"][0]["waiting_on"] == ["verify"]
    assert {case_id: rows(gridflow, case_id) for case_id in before} == before  # the dry run changed nothing

    done = migrate(api, from_version=1, to_version=2, dry_run=False)
    assert moved(done) == [at_register] and list(refused(done)) == [at_verify]
    assert rows(gridflow, at_verify) == before[at_verify]  # state, version, rows: untouched
    assert api.case(at_register)["process"]["version"] == 2

    # The refused case finishes on version 1, the moved one on version 2, a new one starts on 2.
    api.complete("collector03", at_verify, "verify", found=True)
    walk_to_close(api, at_verify)
    assert api.complete("operator", at_verify, "close")["process"]["version"] == 1
    walk_to_close(api, at_register)
    assert api.complete("operator", at_register, "close")["status"] == "closed"
    new_case = api.report("operator", channel="hotline")["id"]
    assert api.has_task("operator", new_case, "register")
    assert gridflow.runtime.verify_cases()[1] == []


def test_a_second_run_finds_nothing_left_and_other_cases_are_named_with_why(api: Api) -> None:
    running = api.report("collector03", channel="collector")["id"]
    closed = api.report("collector03", channel="collector")["id"]
    api.complete("operator", closed, "register", decision="reject", reason="重复上报")
    upload(api, "case_lifecycle.bpmn", with_new_handle_title(LIFECYCLE), 201)
    assert moved(migrate(api, from_version=1, to_version=2, dry_run=False)) == [running]
    assert migrate(api, from_version=1, to_version=2, dry_run=False)["migrated"] == []
    answer = migrate(api, from_version=1, to_version=2, case_ids=[running, closed, 999999], dry_run=True)
    assert refused(answer) == {
        running: ["runs on case_lifecycle version 2, not case_lifecycle version 1"],
        closed: ["is rejected: a finished case keeps the version it ran on"],
        999999: ["no such case"],
    }


def test_only_an_administrator_migrates_and_bad_requests_are_named(api: Api) -> None:
    upload(api, "case_lifecycle.bpmn", with_new_handle_title(LIFECYCLE), 201)
    assert "administrator" in migrate(api, 403, user="operator", from_version=1, to_version=2, dry_run=True)["error"]
    assert migrate(api, 422, from_version=2, to_version=1, dry_run=True)["field"] == "to_version"
    assert migrate(api, 422, from_version=1, to_version=2)["field"] == "dry_run"
    assert migrate(api, 422, from_version="1", to_version=2, dry_run=True)["field"] == "from_version"
    assert migrate(api, 422, from_version=1, to_version=2, dry_run=True, case_ids=["x"])["field"] == "case_ids"
    assert migrate(api, 404, from_version=1, to_version=3, dry_run=True)["error"]
    answer = api.call(
        "POST", "/api/definitions/no_such_process/migrations", "admin", 404,
        json={"from_version": 1, "to_version": 2, "dry_run": True},
    )
    assert "no_such_process" in answer["error"]


def test_the_diff_lists_added_removed_and_changed_elements(api: Api) -> None:  # the administrator's
    assert "no version before" in api.get("/api/definitions/case_lifecycle/diff", "admin", 404)["error"]
    upload(api, "case_lifecycle.bpmn", with_archive_step(with_new_handle_title(LIFECYCLE)), 201)
    diff = api.get("/api/definitions/case_lifecycle/diff", "admin")
    assert (diff["from"]["version"], diff["to"]["version"]) == (1, 2)
    assert diff["from"]["files"]["case_lifecycle.bpmn"] == 1 and diff["to"]["files"]["case_lifecycle.bpmn"] == 2
    assert [(e["element"], e["type"], e["lane"]) for e in diff["added"]] == [("archive", "UserTask", "operator")]
    assert diff["removed"] == []
    changes = {e["element"]: {c["what"]: (c["from"], c["to"]) for c in e["changes"]} for e in diff["changed"]}
    assert changes["handle"] == {"property title": ("处置案件", NEW_HANDLE_TITLE)}
    assert changes["close"] == {"outgoing": (["end_closed"], ["archive"])}
    assert changes["end_closed"] == {"incoming": (["close"], ["archive"])}
    assert set(changes) == {"handle", "close", "end_closed"}

    upload(api, "case_lifecycle.bpmn", without_verify(LIFECYCLE), 201)
    diff = api.get("/api/definitions/case_lifecycle/diff?from=1&to=3", "admin")
    assert {e["element"] for e in diff["removed"]} == {
        "verify", "verify_warning", "verify_overdue", "verify_warned", "verify_overdue_noted"
    }
    changes = {e["element"]: {c["what"]: (c["from"], c["to"]) for c in e["changes"]} for e in diff["changed"]}
    assert changes["register"] == {"incoming": (["gw_channel", "verify"], ["gw_channel"])}
    assert changes["gw_channel"]["outgoing"] == (["register", "verify"], ["register"])
    assert changes["gw_channel"]["condition towards register"] == (
        "channel == 'collector'", ["channel != 'collector'", "channel == 'collector'"]
    )

    longer = TIME_LIMITS.replace(
        '<outputEntry id="time_limits_normal_out2"><text>"PT1H"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out2"><text>"PT3H"</text></outputEntry>',
    )
    upload(api, "time_limits.dmn", longer, 201)
    diff = api.get("/api/definitions/case_lifecycle/diff", "admin")  # 3 -> 4
    [table] = diff["changed"]
    assert (table["element"], diff["added"], diff["removed"]) == ("decide_time_limits", [], [])
    [change] = table["changes"]
    assert change["what"] == "decision table time_limits_table rule time_limits_normal"
    assert (change["from"]["then"]["register_limit"], change["to"]["then"]["register_limit"]) == ('"PT1H"', '"PT3H"')
    assert change["from"]["when"] == change["to"]["when"]

    assert api.get("/api/definitions/case_lifecycle/diff?from=x", "admin", 422)["field"] == "from"
    assert api.get("/api/definitions/case_lifecycle/diff?from=0", "admin", 422)["field"] == "from"
    assert api.get("/api/definitions/case_lifecycle/diff?to=9", "admin", 404)["error"]
    assert api.get("/api/definitions/nothing/diff", "admin", 404)["error"]


def _due(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["due_at"])


def test_a_moved_case_keeps_its_deadlines_and_the_limits_decided_when_it_started(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    """A deadline already given does not move with a new table, and the limits the table gave
    when the case started stay the case's own: a changed table reaches new cases."""
    case_id = api.report("collector03", channel="collector")["id"]  # register due 10:00 (1 working hour)
    longer = TIME_LIMITS.replace(
        '<outputEntry id="time_limits_normal_out2"><text>"PT1H"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out2"><text>"PT3H"</text></outputEntry>',
    ).replace(
        '<outputEntry id="time_limits_normal_out3"><text>"PT1H"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out3"><text>"PT4H"</text></outputEntry>',
    )
    assert longer.count('"PT4H"') > TIME_LIMITS.count('"PT4H"')
    upload(api, "time_limits.dmn", longer, 201)
    assert moved(migrate(api, from_version=1, to_version=2, dry_run=False)) == [case_id]
    assert _due(api.task("operator", case_id, "register")) == local("2026-11-25 10:00")
    api.complete("operator", case_id, "register", decision="register")
    # The limits were decided when the case started (on version 1): the case keeps them.
    assert _due(api.task("dispatcher", case_id, "dispatch")) == local("2026-11-25 10:00")
    assert fire_at(gridflow, clock, "2026-11-25 10:00") == 2  # dispatch's warning and overdue, as before


def test_a_case_whose_data_the_new_version_cannot_read_stays_and_the_dry_run_says_so(
    api: Api, gridflow: Gridflow
) -> None:
    """Version 2 narrows handling to a zone set when the deadline is set: a case that passed
    that step on version 1 has no such data, and would fail in front of the department."""
    waiting = dispatched(api)
    bpmn = LIFECYCLE.replace(
        "handle_due = deadline_after(handle_limit, calendar)</bpmn:script>",
        "handle_due = deadline_after(handle_limit, calendar)\nhandling_zone = zone</bpmn:script>",
    ).replace(
        '<spiffworkflow:property name="department" value="department" />',
        '<spiffworkflow:property name="department" value="department" />\n'
        '          <spiffworkflow:property name="zone" value="handling_zone" />',
    )
    upload(api, "case_lifecycle.bpmn", bpmn, 201)
    before = rows(gridflow, waiting)
    for dry_run in (True, False):
        [reason] = refused(migrate(api, from_version=1, to_version=2, dry_run=dry_run))[waiting]
        assert reason.startswith("version 2 fails on this case") and "handling_zone" in reason
        assert rows(gridflow, waiting) == before
    api.complete("jd03", waiting, "handle", action="done", result="已清理")  # on version 1, as before
