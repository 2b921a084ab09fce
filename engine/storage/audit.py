"""The append-only audit trail. Every state change writes one event in the same transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: int | None = None,
    task: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
    department_code: str | None = None,
    outcome: str | None = None,
    deadline_state: str | None = None,
    working_seconds: int | None = None,
    overdue_seconds: int | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        case_id=case_id,
        task=task,
        from_status=from_status,
        to_status=to_status,
        detail=detail or {},
        department_code=department_code,
        outcome=outcome,
        deadline_state=deadline_state,
        working_seconds=working_seconds,
        overdue_seconds=overdue_seconds,
    )
    session.add(event)
    return event


def case_history(session: Session, case_id: int) -> list[dict[str, Any]]:
    events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id))
    return [event_as_dict(e) for e in events]


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "task": event.task,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": event.detail,
        "department_code": event.department_code,
        "outcome": event.outcome,
        "deadline_state": event.deadline_state,
        "working_seconds": event.working_seconds,
        "overdue_seconds": event.overdue_seconds,
    }
