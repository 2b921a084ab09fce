"""A second process with no code: 公文办理 (document handling) ships in workflows/, is started from
its own form, runs through the same inbox, timers and 督办 as the grid-management lifecycle and
counts in the same assessment figures. And a third process, written only as files in this test,
deploys through the API and runs end to end with a task and a timer."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from flask import Flask

from engine import Gridflow
from engine.assessment.figures import Period
from engine.deadlines.clock import ManualClock

from .conftest import Api, csrf, local, logged_in, user_id, walk

DOCUMENT = {"title": "关于做好冬季除雪工作的通知", "source": "市城管委", "document_no": "城管发〔2026〕12号",
            "urgency": "urgent", "summary": "降雪期间主次干道当日清扫"}


def test_the_clerk_starts_a_document_from_its_form_and_it_is_handled_within_its_limit(
    app: Flask, gridflow: Gridflow, clock: ManualClock
) -> None:
    clerk = logged_in(app, "clerk")
    listing = clerk.get("/start").get_data(as_text=True)
    assert "公文办理流程" in listing
    form_page = clerk.get("/start/document_handling").get_data(as_text=True)
    missing = clerk.post("/start/document_handling", data={"source": "市城管委", "csrf_token": csrf(form_page)})
    assert missing.status_code == 422
    assert 'id="error-title"' in missing.get_data(as_text=True)
    started = clerk.post("/start/document_handling", data=DOCUMENT | {"csrf_token": csrf(form_page)})
    assert started.status_code == 302
    case_id = int(started.headers["Location"].rsplit("/", 1)[1])

    inbox = clerk.get("/").get_data(as_text=True)
    assert "公文登记" in inbox and "关于做好冬季除雪工作的通知" in inbox  # the subject stands for the address
    walk(gridflow, case_id, [("clerk", "doc_register", {})])
    walk(gridflow, case_id, [("leader", "doc_sign", {"handling_office": "CGJ", "instruction": "请当日办结"})])
    [handle] = [t for t in gridflow.inbox.tasks_for(user_id(gridflow, "cgj")) if t["case_id"] == case_id]
    assert handle["title"] == "办理公文"
    # 急件当日办结: four working hours from Wednesday 09:00 is 14:30 (lunch 12:00-13:30 does not count).
    assert datetime.fromisoformat(handle["due_at"]) == local("2026-11-25 14:30")

    clock.set(local("2026-11-25 15:00"))
    assert gridflow.timers.fire_due() == 2  # 预警, then 超期
    [supervise] = [t for t in gridflow.inbox.tasks_for(user_id(gridflow, "leader")) if t["case_id"] == case_id]
    assert supervise["title"] == "督办超期公文"
    walk(gridflow, case_id, [("cgj", "doc_handle", {"result": "已部署除雪"})])
    assert not gridflow.inbox.tasks_for(user_id(gridflow, "leader"))  # the answer withdrew the 督办
    walk(gridflow, case_id, [("clerk", "doc_file", {"archive_no": "2026-GW-001"})])

    case = gridflow.cases.case(case_id, user_id(gridflow, "leader"))
    assert case["status"] == "filed" and case["closed_at"] is not None
    assert case["category"] is None and case["grid"] is None and case["description"] == DOCUMENT["title"]
    assert [e["action"] for e in case["history"]] == ["start", "complete", "complete", "timer", "timer", "complete",
                                                      "complete"]

    cgj = next(d for d in gridflow.assessment.departments(Period(date(2026, 11, 1), date(2026, 12, 1)))
               if d["department"] == "CGJ")
    assert (cgj["dispatched"], cgj["handled"], cgj["handled_on_time"], cgj["overdue"]) == (1, 1, 0, 1)
    assert (cgj["closed"], cgj["closure_rate"]) == (1, 1.0)  # 归档 closes a document as 结案 closes a case


def test_only_the_roles_the_start_event_names_start_a_document(app: Flask, gridflow: Gridflow) -> None:
    operator = logged_in(app, "operator")
    assert "公文办理流程" not in operator.get("/start").get_data(as_text=True)
    assert operator.get("/start/document_handling").status_code == 403


THIRD_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="petition_definitions" targetNamespace="http://gridflow.local/test">
  <bpmn:process id="petition" name="信访受理" isExecutable="true">
    <bpmn:laneSet id="petition_lanes">
      <bpmn:lane id="petition_lane_operator" name="operator">
        <bpmn:flowNodeRef>petition_start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>petition_reply</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>petition_end</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>petition_late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>petition_late_end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="petition_start">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="start_roles" value="operator" />
        <spiffworkflow:property name="subject" value="matter" />
        <spiffworkflow:property name="form"
          value='{"matter": {"type": "text", "label": "信访事项", "required": true}}' />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>petition_f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="petition_f1" sourceRef="petition_start" targetRef="petition_reply" />
    <bpmn:userTask id="petition_reply" name="答复">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="title" value="答复信访人" />
        <spiffworkflow:property name="status" value="replying" />
        <spiffworkflow:property name="form"
          value='{"reply": {"type": "text", "label": "答复意见", "required": true}}' />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>petition_f1</bpmn:incoming>
      <bpmn:outgoing>petition_f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="petition_late" attachedToRef="petition_reply" cancelActivity="false">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="kind" value="overdue" />
        <spiffworkflow:property name="deadline_state" value="overdue" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>petition_f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="petition_late_definition">
        <bpmn:timeDate>deadline_after("P2D")</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="petition_f3" sourceRef="petition_late" targetRef="petition_late_end" />
    <bpmn:endEvent id="petition_late_end" />
    <bpmn:sequenceFlow id="petition_f2" sourceRef="petition_reply" targetRef="petition_end" />
    <bpmn:endEvent id="petition_end">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="status" value="replied" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>petition_f2</bpmn:incoming>
      <bpmn:terminateEventDefinition id="petition_end_terminate" />
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_third_process_written_in_the_test_deploys_through_the_api_and_runs(
    api: Api, gridflow: Gridflow, clock: ManualClock
) -> None:
    deployed = api.call("POST", "/api/definitions", "admin", 201,
                        data={"file": (io.BytesIO(THIRD_PROCESS.encode()), "petition.bpmn")},
                        content_type="multipart/form-data")
    assert {"id": "petition", "version": 1} in deployed["processes"]

    operator = user_id(gridflow, "operator")
    forms = api.get("/api/processes", "operator")
    assert [f["id"] for f in forms] == ["petition"]  # 公文办理 is the clerk's, not the operator's
    case_id = api.call("POST", "/api/processes/petition/cases", "operator", 201, json={"matter": "小区噪音扰民"})["id"]
    [reply] = [t for t in gridflow.inbox.tasks_for(operator, stage="petition_reply") if t["case_id"] == case_id]
    assert reply["title"] == "答复信访人"
    assert datetime.fromisoformat(reply["due_at"]) == local("2026-11-27 09:00")  # two working days

    clock.advance(timedelta(days=3))  # Saturday: two working days have passed
    assert gridflow.timers.fire_due() == 1
    [late] = [t for t in gridflow.inbox.tasks_for(operator) if t["case_id"] == case_id]
    assert late["deadline_state"] == "overdue"
    gridflow.runtime.complete_task(operator, late["id"], {"reply": "已协调物业整改"})
    case = gridflow.cases.case(case_id, operator)
    assert case["status"] == "replied"
    assert [e["action"] for e in case["history"]] == ["start", "timer", "complete"]


def test_the_start_form_prefills_the_diagrams_defaults(app: Flask) -> None:
    page = logged_in(app, "clerk").get("/start/document_handling").get_data(as_text=True)
    assert 'name="urgency" value="normal" checked' in page  # 平件 unless the clerk says 急件


def test_a_broken_start_form_or_subject_is_refused_at_deploy_naming_the_start_event(api: Api) -> None:
    for broken in (
        THIRD_PROCESS.replace('name="subject" value="matter"', 'name="subject" value="mater"'),
        THIRD_PROCESS.replace('name="subject" value="matter"', 'name="subject" value="matter +"'),
        THIRD_PROCESS.replace('{"matter": {"type": "text"', '{"matter": {"type": "txt"'),
        THIRD_PROCESS.replace('name="start_roles" value="operator"', 'name="start_roles" value="operater"'),
    ):
        refused = api.call("POST", "/api/definitions", "admin", 422,
                           data={"file": (io.BytesIO(broken.encode()), "petition.bpmn")},
                           content_type="multipart/form-data")
        assert "petition_start" in {p["element"] for p in refused["problems"]}, refused
    assert not [p for p in api.get("/api/definitions", "admin")["processes"] if p["id"] == "petition"]
