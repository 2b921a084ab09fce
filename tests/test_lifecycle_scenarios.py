"""Whole cases walked through the JSON API on a real SQLite file, one test per branch of
workflows/case_lifecycle.bpmn: statuses, who gets which task, deadlines and history."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from engine.deadlines.clock import ManualClock

from .conftest import Api, local, logged_in


@pytest.fixture(params=[1000, 0], ids=["kept", "restored"])
def workflow_cache_size(request: pytest.FixtureRequest) -> int:
    """Every scenario twice: with workflows kept in memory between commands, and restored from
    the database for every command, which must behave the same."""
    return int(request.param)

def steps(case: dict[str, Any]) -> list[tuple[str, str, str | None, str | None, str]]:
    """The history as (actor, action, task, from status, to status)."""
    return [(e["actor"], e["action"], e["task"], e["from_status"], e["to_status"]) for e in case["history"]]


def due(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["due_at"])


def dispatched_case(api: Api, department: str = "JD03", **report: Any) -> int:
    """A collector's report, registered and dispatched: the case waits in `handle`."""
    case_id = api.report("collector03", channel="collector", **report)["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department=department)
    return case_id


def test_straight_path_from_a_collector_report_to_close(api: Api, clock: ManualClock) -> None:
    created = api.report("collector03", channel="collector", category="BJ0101", grid="03-01")
    case_id = created["id"]
    assert created["status"] == "registering"  # a collector's own report needs no verify
    assert created["case_no"] == "20261125-0001"
    assert not api.has_task("collector03", case_id)

    register = api.task("operator", case_id, "register")
    assert register["title"] == "立案审核"
    assert due(register) == local("2026-11-25 10:00")  # normal case: register within 1 working hour
    assert api.complete("operator", case_id, "register", decision="register")["status"] == "dispatching"

    # BJ0101 上水井盖 is owned by 住建局: the form suggests the owner first (先属主).
    dispatch = api.task("dispatcher", case_id, "dispatch")
    form = api.get(f"/api/tasks/{dispatch['id']}", "dispatcher")
    assert form["fields"][0]["name"] == "department"
    assert form["fields"][0]["default"] == "ZJJ"
    clock.advance(timedelta(minutes=30))
    after_dispatch = api.complete("dispatcher", case_id, "dispatch", department="ZJJ")
    assert after_dispatch["status"] == "handling"
    assert after_dispatch["department"] == {"code": "ZJJ", "name": "住建局"}

    handle = api.task("zjj", case_id, "handle")
    assert due(handle) == local("2026-11-26 09:30")  # one working day after dispatch
    assert not api.has_task("cgj", case_id)  # another department never sees it
    assert not api.has_task("dispatcher", case_id)
    api.complete("zjj", case_id, "handle", action="done", result="已更换井盖")

    assert not api.has_task("collector04", case_id)  # check belongs to the zone's own collector
    check = api.task("collector03", case_id, "check")
    assert check["title"] == "现场核查"
    assert api.complete("collector03", case_id, "check", passed=True, note="已修复")["status"] == "closing"

    closed = api.complete("operator", case_id, "close")
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    assert closed["tasks"] == []
    assert steps(closed) == [
        ("collector03", "report", None, None, "registering"),
        ("operator", "complete", "register", "registering", "dispatching"),
        ("dispatcher", "complete", "dispatch", "dispatching", "handling"),
        ("zjj", "complete", "handle", "handling", "checking"),
        ("collector03", "complete", "check", "checking", "closing"),
        ("operator", "complete", "close", "closing", "closed"),
    ]
    assert closed["history"][3]["detail"]["fields"]["result"] == "已更换井盖"


def test_hotline_case_is_verified_by_the_zone_collector_first(api: Api) -> None:
    created = api.report("operator", channel="hotline", grid="03-02")
    case_id = created["id"]
    assert created["status"] == "verifying"
    assert not api.has_task("collector04", case_id)
    assert not api.has_task("operator", case_id)
    verify = api.task("collector03", case_id, "verify")
    assert verify["zone"] == "03"
    assert due(verify) == local("2026-11-25 11:00")  # 2 working hours

    after = api.complete("collector03", case_id, "verify", found=True, note="现场确有店外经营")
    assert after["status"] == "registering"
    api.complete("operator", case_id, "register", decision="register")

    # SJ0502 店外经营 has no owner: the street office of grid 03-02 is suggested (后属地).
    dispatch = api.task("dispatcher", case_id, "dispatch")
    assert api.get(f"/api/tasks/{dispatch['id']}", "dispatcher")["fields"][0]["default"] == "JD03"
    assert steps(api.case(case_id))[:3] == [
        ("operator", "report", None, None, "verifying"),
        ("collector03", "complete", "verify", "verifying", "registering"),
        ("operator", "complete", "register", "registering", "dispatching"),
    ]


def test_local_dispatch_rule_for_the_development_zone(api: Api) -> None:
    case_id = api.report("collector11", channel="collector", category="SJ0501", grid="11-02")["id"]
    api.complete("operator", case_id, "register", decision="register")
    dispatch = api.task("dispatcher", case_id, "dispatch")
    # The first row of dispatch_rules.dmn: street order in zone 11 goes to 开发区 (KFQ),
    # before the owner rule would pick 工商局.
    assert api.get(f"/api/tasks/{dispatch['id']}", "dispatcher")["fields"][0]["default"] == "KFQ"


def test_reject_at_register_ends_the_case(api: Api) -> None:
    case_id = api.report("operator", channel="web")["id"]
    unexplained = api.complete("collector03", case_id, "verify", expect=422, found=False)
    assert unexplained["field"] == "note"  # the operator decides on what the collector saw
    api.complete("collector03", case_id, "verify", found=False, note="现场未发现")
    error = api.complete("operator", case_id, "register", expect=422, decision="reject")
    assert error["field"] == "reason"

    rejected = api.complete("operator", case_id, "register", decision="reject", reason="现场未发现，不予立案")
    assert rejected["status"] == "rejected"
    assert rejected["closed_at"] is not None
    assert rejected["tasks"] == []
    assert not api.has_task("dispatcher", case_id)
    assert steps(rejected)[-1] == ("operator", "complete", "register", "registering", "rejected")
    assert rejected["history"][-1]["detail"]["fields"]["reason"] == "现场未发现，不予立案"


def test_return_goes_back_to_dispatch_and_a_new_department_gets_it(api: Api, app: Flask, clock: ManualClock) -> None:
    case_id = dispatched_case(api, department="CGJ")
    assert api.has_task("cgj", case_id, "handle")

    returned = api.complete("cgj", case_id, "handle", action="return", result="店外经营属街道管辖，非本部门职责")
    assert returned["status"] == "dispatching"
    assert returned["department"] is None  # nobody holds a returned case until it is dispatched again
    assert api.get("/api/cases?department=CGJ", "operator")["total"] == 0
    assert not api.has_task("cgj", case_id)
    assert api.has_task("dispatcher", case_id, "dispatch")

    # The dispatcher reads why, in the form's own words, on the timeline of his task's page.
    assert returned["history"][-1]["detail"]["answers"] == [
        {"label": "处置结果", "value": "退回（非本部门职责）"},
        {"label": "处置情况 / 退回理由", "value": "店外经营属街道管辖，非本部门职责"},
    ]
    dispatch = api.task("dispatcher", case_id, "dispatch")
    page = logged_in(app, "dispatcher").get(f"/tasks/{dispatch['id']}").get_data(as_text=True)
    assert "<dt>处置情况 / 退回理由</dt><dd>店外经营属街道管辖，非本部门职责</dd>" in page

    clock.advance(timedelta(hours=1))
    dispatched = api.complete("dispatcher", case_id, "dispatch", department="JD03")
    assert dispatched["history"][-1]["detail"]["answers"] == [{"label": "处置部门", "value": "西城街道办事处"}]
    handle = api.task("jd03", case_id, "handle")
    assert due(handle) == local("2026-11-26 10:00")  # a fresh limit from the new dispatch
    assert not api.has_task("cgj", case_id)
    # (the dispatch stage turned yellow and red in the hour it waited: timer events between)
    completions = [s for s in steps(api.case(case_id)) if s[1] == "complete"]
    assert [s[1:] for s in completions[-3:]] == [
        ("complete", "dispatch", "dispatching", "handling"),
        ("complete", "handle", "handling", "dispatching"),
        ("complete", "dispatch", "dispatching", "handling"),
    ]


def test_extension_approved_moves_the_deadline_in_working_time(api: Api) -> None:
    case_id = dispatched_case(api)
    assert due(api.task("jd03", case_id, "handle")) == local("2026-11-26 09:00")

    error = api.complete("jd03", case_id, "handle", expect=422, action="extend")
    assert error["field"] == "extend_by"
    error = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="two days")
    assert error["field"] == "extend_by"
    asked = api.complete("jd03", case_id, "handle", action="extend", extend_by="P2D", result="需协调商户")
    assert asked["status"] == "handling"
    # what the leader reads on the timeline before deciding
    assert {"label": "延期时长（如 P2D、PT4H）", "value": "2天"} in asked["history"][-1]["detail"]["answers"]
    assert asked["department"]["code"] == "JD03"
    assert not api.has_task("jd03", case_id)
    approve = api.task("leader", case_id, "approve_extension")
    assert approve["title"] == "审批延期申请"

    api.complete("leader", case_id, "approve_extension", approved=True, opinion="同意延期两个工作日")
    # Thursday 09:00 + 2 working days = Monday 09:00 (the weekend does not count).
    assert due(api.task("jd03", case_id, "handle")) == local("2026-11-30 09:00")
    history = api.case(case_id)["history"]
    assert [(e["actor"], e["task"], e["from_status"], e["to_status"]) for e in history[-2:]] == [
        ("jd03", "handle", "handling", "handling"),
        ("leader", "approve_extension", "handling", "handling"),
    ]
    assert history[-2]["detail"]["fields"]["extend_by"] == "P2D"
    assert history[-1]["detail"]["fields"]["approved"] is True
    [opened] = history[-1]["detail"]["opened"]
    assert opened["task"] == "handle"
    assert datetime.fromisoformat(opened["due_at"]) == local("2026-11-30 09:00")


def test_extension_refused_keeps_the_deadline(api: Api) -> None:
    case_id = dispatched_case(api)
    api.complete("jd03", case_id, "handle", action="extend", extend_by="P1D")
    refused = api.complete("leader", case_id, "approve_extension", approved=False, opinion="不同意")
    assert refused["status"] == "handling"
    assert not api.has_task("leader", case_id)
    assert due(api.task("jd03", case_id, "handle")) == local("2026-11-26 09:00")
    assert steps(refused)[-2:] == [
        ("jd03", "complete", "handle", "handling", "handling"),
        ("leader", "complete", "approve_extension", "handling", "handling"),
    ]
    assert refused["history"][-1]["detail"]["fields"] == {"approved": False, "opinion": "不同意"}


def test_failed_check_sends_the_case_back_to_the_same_department_for_rework(api: Api, clock: ManualClock) -> None:
    case_id = dispatched_case(api, department="JD03")
    api.complete("jd03", case_id, "handle", action="done", result="已清理")
    clock.advance(timedelta(hours=2))
    unexplained = api.complete("collector03", case_id, "check", expect=422, passed=False)
    assert unexplained["field"] == "note"  # the department is told what is still wrong
    failed = api.complete("collector03", case_id, "check", passed=False, note="货架仍在")
    assert failed["status"] == "handling"
    assert failed["department"]["code"] == "JD03"
    rework = api.task("jd03", case_id, "handle")
    assert due(rework) == local("2026-11-26 11:00")  # rework restarts the handling limit

    api.complete("jd03", case_id, "handle", action="done", result="已督促商户搬离货架")
    api.complete("collector03", case_id, "check", passed=True)
    closed = api.complete("operator", case_id, "close")
    assert closed["status"] == "closed"
    tasks_done = [s[2] for s in steps(closed) if s[1] == "complete"]
    assert tasks_done == ["register", "dispatch", "handle", "check", "handle", "check", "close"]
    assert [s[3:] for s in steps(closed) if s[2] == "check"] == [("checking", "handling"), ("checking", "closing")]


def test_urgent_and_emergency_cases_take_their_limits_from_the_table(api: Api, clock: ManualClock) -> None:
    clock.set(local("2026-11-27 16:30"))  # Friday afternoon
    urgent = dispatched_case(api, urgency="urgent")
    # 2 working hours from Friday 16:30: one hour on Friday, one on Monday morning.
    assert due(api.task("jd03", urgent, "handle")) == local("2026-11-30 09:30")

    emergency = api.report("collector03", channel="collector", category="SJ0401")["id"]  # 路面塌陷
    assert due(api.task("operator", emergency, "register")) == local("2026-11-27 16:40")
    api.complete("operator", emergency, "register", decision="register")
    api.complete("dispatcher", emergency, "dispatch", department="ZJJ")
    # Emergencies run on natural time: 2 hours later, on a Friday evening.
    assert due(api.task("zjj", emergency, "handle")) == local("2026-11-27 18:30")


def test_case_numbers_are_date_and_sequence(api: Api, clock: ManualClock) -> None:
    numbers = [api.report()["case_no"] for _ in range(3)]
    assert numbers == ["20261125-0001", "20261125-0002", "20261125-0003"]
    clock.set(local("2026-11-26 00:05"))  # the sequence starts again each day (Beijing time)
    assert api.report()["case_no"] == "20261126-0001"


def test_case_list_filters_by_status_department_and_grid(api: Api) -> None:
    handling = dispatched_case(api, department="CGJ")
    verifying = api.report(grid="05-01")["id"]
    page = api.get("/api/cases?status=handling", "operator")
    assert [c["id"] for c in page["cases"]] == [handling]
    assert [c["id"] for c in api.get("/api/cases?department=CGJ", "operator")["cases"]] == [handling]
    assert [c["id"] for c in api.get("/api/cases?grid=05-01", "operator")["cases"]] == [verifying]
    assert api.get("/api/cases", "operator")["total"] == 2
