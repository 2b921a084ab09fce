"""Reading cases: one case with its open tasks and its whole timeline, and pages of cases."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from ..errors import Forbidden, InvalidField, NotFound
from ..storage import Case, CasePhoto, Category, Component, Department, Grid, ProcessVersion, Task, User, case_history
from .inbox import task_as_dict

PAGE_SIZE_MAX = 200
# The two centres, the leaders and the assessment office see every case; others what concerns them.
OVERSEEING_ROLES = frozenset({"operator", "dispatcher", "leader", "assessor", "admin"})


def readable_by(user: User) -> ColumnElement[bool]:
    """The cases a person may read: all for the centres and leaders; for a collector his zone's;
    for a department handler those his department holds or was ever given; one's own reports."""
    if user.role_names & OVERSEEING_ROLES:
        return true()
    concerns: list[ColumnElement[bool]] = [Case.reporter_id == user.id]
    if "collector" in user.role_names and user.zone_code:
        concerns.append(Case.zone_code == user.zone_code)
    if "department" in user.role_names and user.department_code:
        concerns.append(Case.department_code == user.department_code)
        concerns.append(
            exists().where(Task.case_id == Case.id, Task.department_code == user.department_code)
        )
    return or_(*concerns)


def _history_for(reader: User, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What only the reporting channel knows (an Open311 citizen's contact, coordinates) is for
    the centres: a collector or a department reading the same case does not see it."""
    if reader.role_names & OVERSEEING_ROLES:
        return history
    return [e | {"detail": {k: v for k, v in e["detail"].items() if k != "source"}} for e in history]


class CaseQueries:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def case(self, case_id: int, reader_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            reader = _reader(session, reader_id)
            case = session.scalar(select(Case).where(Case.id == case_id, readable_by(reader)))
            if case is None:
                if session.get(Case, case_id) is not None:
                    raise Forbidden("this case is not one of yours")
                raise NotFound(f"case {case_id} does not exist")
            tasks = session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.id))
            process = session.get(ProcessVersion, case.process_version_id)
            assert process is not None
            photos = session.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id))
            component = session.get(Component, case.component_id) if case.component_id else None
            return _case_summary(session, case) | {
                "lat": case.lat,
                "long": case.lon,
                "component": (
                    {"code": component.code, "owner_department": component.owner_department_code} if component else None
                ),
                "process": {"id": process.process_id, "version": process.version, "version_id": process.id},
                "photos": [
                    {
                        "sha256": p.sha256,
                        "content_type": p.content_type,
                        "size": p.size,
                        "uploaded_by": p.uploaded_by,
                        "uploaded_at": p.uploaded_at.isoformat(),
                    }
                    for p in photos
                ],
                "tasks": [task_as_dict(t, case.case_no) for t in tasks if t.state == "open"],
                "history": _history_for(reader, case_history(session, case.id)),
            }

    def photo(self, sha256: str, reader_id: int) -> tuple[str, str]:
        """(sha256, content type) of a photo of a case the reader may read."""
        with self._sessions() as session:
            reader = _reader(session, reader_id)
            row = session.execute(
                select(CasePhoto.sha256, CasePhoto.content_type)
                .join(Case, Case.id == CasePhoto.case_id)
                .where(CasePhoto.sha256 == sha256, readable_by(reader))
                .limit(1)
            ).first()
            if row is None:
                raise NotFound("no such photo among the cases you may read")
            return row[0], row[1]

    def page(
        self,
        reader_id: int,
        status: str | None = None,
        department: str | None = None,
        grid: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> dict[str, Any]:
        if page < 1:
            raise InvalidField("page", "must be 1 or more")
        if not 1 <= per_page <= PAGE_SIZE_MAX:
            raise InvalidField("per_page", f"must be between 1 and {PAGE_SIZE_MAX}")
        query = select(Case)
        if status:
            query = query.where(Case.status == status)
        if department:
            query = query.where(Case.department_code == department)
        if grid:
            query = query.where(Case.grid_code == grid)
        with self._sessions() as session:
            query = query.where(readable_by(_reader(session, reader_id)))
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = session.scalars(query.order_by(Case.id.desc()).limit(per_page).offset((page - 1) * per_page))
            return {
                "page": page,
                "per_page": per_page,
                "total": total,
                "cases": [_case_summary(session, c) for c in rows],
            }


def _reader(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def _case_summary(session: Session, case: Case) -> dict[str, Any]:
    category = session.get(Category, case.category_code) if case.category_code else None
    grid = session.get(Grid, case.grid_code) if case.grid_code else None
    department = session.get(Department, case.department_code) if case.department_code else None
    return {
        "id": case.id,
        "case_no": case.case_no,
        "status": case.status,
        # None for a case of a process without categories and grids (公文办理)
        "category": {"code": category.code, "name": category.name} if category else None,
        "grid": {"code": grid.code, "name": grid.name, "zone": case.zone_code} if grid else None,
        "department": {"code": department.code, "name": department.name} if department else None,
        "address": case.address,
        "description": case.description,
        "urgency": case.urgency,
        "channel": case.channel,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "version": case.version,
    }
