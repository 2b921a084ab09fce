"""Bad requests get the right status and a JSON body naming the problem, and change nothing."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine import Gridflow, Settings
from engine.errors import InvalidField

from .conftest import Api


def snapshot(api: Api, case_id: int) -> dict[str, Any]:
    """Everything a failed call must leave as it was."""
    case = api.case(case_id)
    return {"version": case["version"], "status": case["status"], "tasks": case["tasks"], "history": case["history"]}


def test_health_is_open_and_everything_else_needs_a_token(api: Api) -> None:
    assert api.call("GET", "/api/health", None) == {"status": "ok"}
    for path in (
        "/api/tasks",
        "/api/tasks/1",
        "/api/cases",
        "/api/cases/1",
        "/api/categories",
        "/api/grids",
        "/api/departments",
        "/api/definitions",
    ):
        assert "error" in api.call("GET", path, None, expect=401)
    for path in ("/api/cases", "/api/tasks/1/complete", "/api/definitions"):
        assert "error" in api.call("POST", path, None, expect=401, json={})
    answer = api.client.get("/api/tasks", headers={"Authorization": "Bearer forged.token"})
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "invalid token"}


def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    assert api.call("GET", "/api/nowhere", "operator", expect=404)["error"]
    assert api.call("GET", "/api/tasks/1/complete", "operator", expect=405)["error"]


def test_login_refuses_a_wrong_password_and_names_missing_fields(api: Api) -> None:
    answer = api.client.post("/api/login", json={"username": "operator", "password": "wrong"})
    assert answer.status_code == 401
    answer = api.client.post("/api/login", json={"username": "operator"})
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "required", "field": "password"}
    answer = api.client.post("/api/login", json=[])
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "body"


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


def test_two_completions_loaded_together_one_wins_even_when_the_status_stays(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Approving and refusing one extension at once: both leave the case `handling`, so only
    the version column can tell the second writer that the first one got there."""
    case_id = api.report("collector03", channel="collector")["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="JD03")
    api.complete("jd03", case_id, "handle", action="extend", extend_by="P1D")
    before = api.case(case_id)
    approval = api.task("leader", case_id, "approve_extension")
    token = api.token("leader")

    # Hold both requests after they loaded the workflow, so that neither sees the other's commit.
    both_loaded = threading.Barrier(2)
    store = app.extensions["gridflow"].runtime.store
    run = store.run

    def run_when_both_loaded(workflow: Any, completed: Any = None, refresh_timers: bool = False) -> None:
        if completed is not None:
            both_loaded.wait(timeout=10)
        run(workflow, completed, refresh_timers)

    monkeypatch.setattr(store, "run", run_when_both_loaded)
    answers: list[tuple[bool, int]] = []

    def decide(approved: bool) -> None:
        answer = app.test_client().post(
            f"/api/tasks/{approval['id']}/complete",
            json={"approved": approved},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers.append((approved, answer.status_code))

    threads = [threading.Thread(target=decide, args=(approved,)) for approved in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()

    assert sorted(status for _, status in answers) == [200, 409]
    after = api.case(case_id)
    assert after["version"] == before["version"] + 1
    assert len([e for e in after["history"] if e["task"] == "approve_extension"]) == 1
    assert [t["task"] for t in after["tasks"]] == ["handle"]


def test_an_extension_beyond_the_diagrams_maximum_is_refused(api: Api) -> None:
    case_id = api.report("collector03", channel="collector")["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="JD03")
    answer = api.complete("jd03", case_id, "handle", expect=422, action="extend", extend_by="P4000000D")
    assert answer == {"field": "extend_by", "error": "must be at most P30D"}
    assert api.task("jd03", case_id, "handle")


def test_case_reads_are_scoped_to_the_reader(api: Api) -> None:
    case_id = api.report("collector03", channel="collector", grid="03-01")["id"]
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="CGJ")
    api.complete("cgj", case_id, "handle", action="return", result="非本部门职责")
    api.complete("dispatcher", case_id, "dispatch", department="JD03")

    for reader in ("operator", "dispatcher", "leader", "collector03", "jd03", "cgj"):
        assert api.case(case_id, reader)["id"] == case_id
    for outsider in ("collector07", "zjj"):
        assert api.call("GET", f"/api/cases/{case_id}", outsider, expect=403)["error"]
        assert api.get("/api/cases", outsider)["total"] == 0
    assert api.get("/api/cases", "jd03")["total"] == 1
    assert api.call("GET", "/api/cases/999", "operator", expect=404)["error"]


def test_a_shared_task_is_claimed_by_one_person_and_released_to_all(api: Api) -> None:
    case_id = api.report("collector03", channel="collector", address="解放路 9 号")["id"]
    register = api.task("operator", case_id, "register")
    claimed = api.call("POST", f"/api/tasks/{register['id']}/claim", "operator")
    assert claimed["assignee_id"] is not None
    assert api.call("POST", f"/api/tasks/{register['id']}/claim", "operator", expect=409)["error"]
    assert api.call("POST", f"/api/tasks/{register['id']}/claim", "dispatcher", expect=403)["error"]
    assert api.call("POST", f"/api/tasks/{register['id']}/release", "operator")["assignee_id"] is None
    assert [e["action"] for e in api.case(case_id)["history"]][-2:] == ["claim", "release"]


def test_the_inbox_filters_by_stage_grid_category_and_address(api: Api) -> None:
    report = {"channel": "collector"}
    first = api.report("collector03", grid="03-01", category="BJ0101", address="解放路 9 号", **report)["id"]
    second = api.report("collector03", grid="03-02", category="SJ0502", address="人民路 1 号", **report)["id"]

    def ids(query: str) -> list[int]:
        return [t["case_id"] for t in api.get(f"/api/tasks?{query}", "operator")]
    assert sorted(ids("stage=register")) == [first, second]
    assert ids("grid=03-01") == [first]
    assert ids("category=SJ0502") == [second]
    assert ids("q=解放路") == [first]
    assert ids("q=20261125-0002") == [second]


def test_a_script_behind_a_jpeg_signature_is_not_a_photo(gridflow: Gridflow) -> None:
    with pytest.raises(InvalidField, match="not a JPEG or PNG"):
        gridflow.photos.check([b"\xff\xd8\xff<html><script>alert(1)</script></html>"])


def test_photos_live_beside_the_sqlite_file_by_default(tmp_path: Path) -> None:
    gridflow = Gridflow(Settings(f"sqlite:///{tmp_path / 'office' / 'gridflow.db'}"))
    assert gridflow.photos.directory == tmp_path / "office" / "photos"
    gridflow.close()


def test_the_inbox_lists_nearest_deadlines_first_and_tasks_without_one_last(api: Api, gridflow: Gridflow) -> None:
    first = api.report("collector03", channel="collector")["id"]
    api.complete("operator", first, "register", decision="register")
    second = api.report("collector03", channel="collector", urgency="urgent")["id"]  # a nearer deadline
    with gridflow.sessions.begin() as session:  # a task the diagram gives no deadline
        from engine.storage.models import Task

        row = session.scalar(select(Task).where(Task.case_id == first, Task.task == "dispatch"))
        assert row is not None
        row.role, row.due_at = "operator", None
    tasks = api.inbox("operator")
    assert [(t["case_id"], t["task"]) for t in tasks] == [(second, "register"), (first, "dispatch")]
    paged = [api.get(f"/api/tasks?limit=1&offset={n}", "operator")[0]["task"] for n in range(2)]
    assert paged == ["register", "dispatch"]
    assert api.get("/api/tasks?limit=1&offset=2", "operator") == []
