"""Bad requests get the right status and a JSON body naming the problem, and change nothing."""
from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from engine import Gridflow
from engine.models import Case

from .conftest import Api


def snapshot(api: Api, case_id: int) -> dict[str, Any]:
    """Everything a failed call must leave as it was."""
    case = api.case(case_id)
    return {"version": case["version"], "status": case["status"], "tasks": case["tasks"], "history": case["history"]}


def test_health_is_open_and_everything_else_needs_a_token(api: Api) -> None:
    assert api.call("GET", "/api/health", None) == {"status": "ok"}
    for path in ("/api/tasks", "/api/cases", "/api/categories", "/api/grids", "/api/departments", "/api/cases/1"):
        assert "error" in api.call("GET", path, None, expect=401)
    answer = api.client.get("/api/tasks", headers={"Authorization": "Bearer forged.token"})
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "invalid token"}


def test_login_refuses_a_wrong_password_and_names_missing_fields(api: Api) -> None:
    answer = api.client.post("/api/login", json={"username": "operator", "password": "wrong"})
    assert answer.status_code == 401
    answer = api.client.post("/api/login", json={"username": "operator"})
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "required", "field": "password"}


def test_reference_data_lists(api: Api) -> None:
    grids = api.get("/api/grids", "operator")
    assert len(grids) == 33
    assert grids[0]["code"] == "01-01" and grids[-1]["code"] == "11-03"
    departments = {d["code"] for d in api.get("/api/departments", "operator")}
    assert {"CGJ", "ZJJ", "HBJ", "GAJ", "GSJ", "FGJ", "SYJ", "KFQ"} <= departments
    categories = api.get("/api/categories", "operator")
    assert len(categories) >= 30
    assert {(c["family"], c["class_code"]) for c in categories} == {
        *(("component", f"0{n}") for n in range(1, 6)),
        *(("event", f"0{n}") for n in range(1, 7)),
    }


def test_another_departments_task_is_forbidden_and_nothing_changes(api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="JD03")
    handle = api.task("jd03", case_id, "handle")
    before = snapshot(api, case_id)

    path = f"/api/tasks/{handle['id']}/complete"
    answer = api.call("POST", path, "cgj", expect=403, json={"action": "done", "result": "x"})
    assert answer == {"error": "this task is not yours"}
    api.call("POST", path, "collector03", expect=403, json={"action": "done", "result": "x"})
    api.call("GET", f"/api/tasks/{handle['id']}", "cgj", expect=403)
    assert snapshot(api, case_id) == before


def test_a_collector_only_verifies_in_his_own_zone(api: Api) -> None:
    case_id = api.report(grid="03-02")["id"]
    verify = api.task("collector03", case_id, "verify")
    api.call("POST", f"/api/tasks/{verify['id']}/complete", "collector04", expect=403, json={"found": True})


def test_completing_a_task_twice_is_a_conflict(api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    register = api.task("operator", case_id, "register")
    path = f"/api/tasks/{register['id']}/complete"
    api.call("POST", path, "operator", json={"decision": "register"})
    before = snapshot(api, case_id)
    answer = api.call("POST", path, "operator", expect=409, json={"decision": "register"})
    assert "already completed" in answer["error"]
    assert snapshot(api, case_id) == before


def test_invalid_fields_are_named_and_nothing_changes(api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    api.complete("operator", case_id, "register", decision="register")
    before = snapshot(api, case_id)
    cases = [
        ({}, "department", "处置部门为必填项 (required)"),
        ({"department": "NOPE"}, "department", "unknown department code 'NOPE'"),
        ({"department": 7}, "department", "must be a string"),
        ({"department": "JD03", "colour": "red"}, "colour", "this task has no such field"),
    ]
    for fields, field, error in cases:
        answer = api.complete("dispatcher", case_id, "dispatch", expect=422, **fields)
        assert answer == {"field": field, "error": error}
    dispatch = api.task("dispatcher", case_id, "dispatch")
    answer = api.call("POST", f"/api/tasks/{dispatch['id']}/complete", "dispatcher", expect=422, data="not json")
    assert answer["field"] == "body"
    assert snapshot(api, case_id) == before


def test_choice_and_boolean_fields_are_checked(api: Api) -> None:
    case_id = api.report()["id"]
    answer = api.complete("collector03", case_id, "verify", expect=422, found="yes")
    assert answer == {"field": "found", "error": "must be true or false"}
    api.complete("collector03", case_id, "verify", found=True)
    answer = api.complete("operator", case_id, "register", expect=422, decision="maybe")
    assert answer == {"field": "decision", "error": "must be one of: register, reject"}


def test_a_bad_report_is_refused_with_the_field_named(api: Api) -> None:
    bad = [
        ({"category": "XX9999"}, "category"),
        ({"grid": "99-99"}, "grid"),
        ({"description": "  "}, "description"),
        ({"urgency": "whenever"}, "urgency"),
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "collector"}, "channel"),  # the operator is not a collector
        ({"address": "路" * 300}, "address"),
    ]
    for fields, field in bad:
        assert api.report(expect=422, **fields)["field"] == field
    assert api.get("/api/cases", "operator")["total"] == 0


def test_only_an_administrator_deploys(api: Api) -> None:
    answer = api.call("POST", "/api/definitions", "operator", expect=403, data={})
    assert "administrator" in answer["error"]


def test_concurrent_completions_of_one_task_one_wins_the_others_conflict(app: Flask, api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    register = api.task("operator", case_id, "register")
    token = api.token("operator")
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def complete() -> None:
        client = app.test_client()
        barrier.wait()
        answer = client.post(
            f"/api/tasks/{register['id']}/complete",
            json={"decision": "register"},
            headers={"Authorization": f"Bearer {token}"},
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=complete) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    completions = [e for e in api.case(case_id)["history"] if e["action"] == "complete"]
    assert len(completions) == 1
    assert len(api.inbox("dispatcher")) == 1


def test_the_version_column_stops_a_second_writer(gridflow: Gridflow, api: Api) -> None:
    case_id = api.report()["id"]
    with gridflow.sessions() as first, gridflow.sessions() as second:
        mine = first.scalar(select(Case).where(Case.id == case_id))
        theirs = second.scalar(select(Case).where(Case.id == case_id))
        assert mine is not None and theirs is not None
        mine.address = "first writer"
        first.commit()
        theirs.address = "second writer"
        try:
            second.commit()
        except StaleDataError:
            second.rollback()
        else:
            raise AssertionError("the second writer overwrote the first")
    assert api.case(case_id)["address"] == "first writer"
