"""People and the organisation: users and their roles, departments, zones, grids, categories."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash

from .errors import NotFound
from .models import Category, Department, Grid, User, Zone


class Directory:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def authenticate(self, username: str, password: str) -> User | None:
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None or not user.active or not check_password_hash(user.password_hash, password):
                return None
            return user

    def user(self, user_id: int) -> User:
        with self._sessions() as session:
            user = session.get(User, user_id)
            if user is None or not user.active:
                raise NotFound(f"user {user_id} does not exist")
            return user

    def departments(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = session.scalars(select(Department).order_by(Department.kind, Department.code))
            return [{"code": d.code, "name": d.name, "kind": d.kind} for d in rows]

    def grids(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            zones = {z.code: z.name for z in session.scalars(select(Zone))}
            rows = session.scalars(select(Grid).order_by(Grid.code))
            return [
                {
                    "code": g.code,
                    "name": g.name,
                    "zone": g.zone_code,
                    "zone_name": zones.get(g.zone_code),
                    "territory_department": g.territory_department_code,
                }
                for g in rows
            ]

    def categories(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = session.scalars(select(Category).order_by(Category.code))
            return [
                {
                    "code": c.code,
                    "family": c.family,
                    "class_code": c.class_code,
                    "class_name": c.class_name,
                    "name": c.name,
                    "owner_department": c.owner_department_code,
                    "limit_class": c.limit_class,
                    "emergency": c.emergency,
                }
                for c in rows
            ]
