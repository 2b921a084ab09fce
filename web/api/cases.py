"""/api's cases and tasks: report, start, read, list, the inbox, a task's form, complete, claim and release."""
from __future__ import annotations

from flask import Response, g, jsonify
from spectree import Response as Answers

from ..auth import engine
from . import answers, requests
from .blueprint import (
    CONFLICT,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    UNAUTHENTICATED,
    body,
    bp,
    login_required,
    query,
    validate,
)
from .requests import ROW_ID

# --- cases and tasks --------------------------------------------------------------------------

@bp.post("/cases")
@login_required
@validate(
    json=requests.Report,
    resp=Answers(HTTP_201=(answers.Reported, "the new case"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def report_case() -> tuple[Response, int]:
    """上报: report a case"""
    case_id = engine().runtime.report_case(g.user.id, body().model_dump(exclude_none=True))
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get("/processes")
@login_required
@validate(resp=Answers(HTTP_200=(list[answers.StartForm], "the processes"), HTTP_401=UNAUTHENTICATED))
def start_forms() -> Response:
    """发起: the processes the caller starts from a form, with their forms"""
    return jsonify(engine().runtime.start_forms(g.user.id))


@bp.post("/processes/<process_id>/cases")
@login_required
@validate(
    json=requests.Submission,
    resp=Answers(
        HTTP_201=(answers.Reported, "the new case"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_422=INVALID,
    ),
)
def start_case(process_id: str) -> tuple[Response, int]:
    """start a case of a process from its start form (e.g. 公文办理)"""
    case_id = engine().runtime.start_case(g.user.id, process_id, body().fields())
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get(f"/cases/<{ROW_ID}:case_id>")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(answers.Case, "the case"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN, HTTP_404=NOT_FOUND
    )
)
def case(case_id: int) -> Response:
    """a case with its open tasks and history"""
    return jsonify(engine().cases.case(case_id, g.user.id))


@bp.get("/cases")
@login_required
@validate(
    query=requests.CaseFilter,
    resp=Answers(HTTP_200=(answers.CasePage, "a page"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def cases() -> Response:
    """a page of the cases the caller may read, newest first"""
    filter = query()
    return jsonify(
        engine().cases.page(
            g.user.id,
            status=filter.status or None,
            department=filter.department or None,
            grid=filter.grid or None,
            page=filter.page,
            per_page=filter.per_page,
        )
    )


@bp.get("/tasks")
@login_required
@validate(
    query=requests.TaskFilter,
    resp=Answers(HTTP_200=(list[answers.InboxTask], "open tasks"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def inbox() -> Response:
    """the caller's inbox, nearest deadline first"""
    filter = query()
    return jsonify(
        engine().inbox.tasks_for(
            g.user.id,
            limit=filter.limit,
            offset=filter.offset,
            stage=filter.stage or None,
            department=filter.department or None,
            grid=filter.grid or None,
            category=filter.category or None,
            search=filter.q or None,
        )
    )


@bp.get(f"/tasks/<{ROW_ID}:task_id>")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(answers.TaskForm, "the form"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN, HTTP_404=NOT_FOUND
    )
)
def task(task_id: int) -> Response:
    """a task's form, prefilled"""
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/complete")
@login_required
@validate(
    json=requests.Submission,
    resp=Answers(
        HTTP_200=(answers.Case, "the case after the step"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_409=CONFLICT,
        HTTP_422=INVALID,
    ),
)
def complete_task(task_id: int) -> Response:
    """complete a task with its form's fields"""
    case_id = engine().runtime.complete_task(g.user.id, task_id, body().fields())
    return jsonify(engine().cases.case(case_id, g.user.id))


# A claim and a release answer alike: the task as the one who asked now sees it.
TASK_HANDED = Answers(
    HTTP_200=(answers.TaskForm, "the task"),
    HTTP_401=UNAUTHENTICATED,
    HTTP_403=FORBIDDEN,
    HTTP_404=NOT_FOUND,
    HTTP_409=CONFLICT,
)


@bp.post(f"/tasks/<{ROW_ID}:task_id>/claim")
@login_required
@validate(resp=TASK_HANDED)
def claim_task(task_id: int) -> Response:
    """签收: take a task the lane shares"""
    engine().runtime.claim_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/release")
@login_required
@validate(resp=TASK_HANDED)
def release_task(task_id: int) -> Response:
    """退回: give a claimed task back to the lane"""
    engine().runtime.release_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))
