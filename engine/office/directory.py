"""People and the organisation: users and their roles, departments, zones, grids, categories."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash

from ..deadlines import Clock
from ..errors import LoginThrottled, NotAuthenticated, NotFound
from ..storage import Category, Department, Grid, LoginFailure, User, Zone

# Wrong passwords (or unknown user names) counted per account and per client address within
# FAILURE_WINDOW; the one that reaches the limit locks the account or the address for LOCK.
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20  # an office behind one address has many people
FAILURE_WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
# Checked instead of a password hash when no account has the name, so that an unknown name
# costs the time a known one does. Made by generate_password_hash with werkzeug's default
# method and work factor, as every account's hash is (tests/test_sessions_and_logins.py keeps
# the two alike).
NO_ACCOUNTS_HASH = (
    "scrypt:32768:8:1$XFGoJDwlNh1UijEW$a257c1523688498efe2bf224c83d6c2cbc94c50b6824280ae88c973ac289efeb"
    "75cd1047b0d5952c78c6aa1d487b2b9167300209490b6ef641f52019b237330d"
)


class Directory:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this name and password. One password hash is checked whether
        or not the name is an account's, so the time taken tells nothing about the name."""
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.username == username))
        matches = check_password_hash(user.password_hash if user is not None else NO_ACCOUNTS_HASH, password)
        if not matches or user is None or not user.active:
            return None
        return user

    def log_in(self, username: str, password: str, address: str) -> User | None:
        """The login page's and the API's way in: authenticate, counting each failure (an
        unknown name too) against the account and the client's address. LoginThrottled while
        either is locked; a success clears the account's count, never the address's."""
        now = self._clock.now()
        limits = {f"user:{username[:64]}": ACCOUNT_FAILURES, f"addr:{address[:64]}": ADDRESS_FAILURES}
        with self._sessions() as session:
            counted = list(session.scalars(select(LoginFailure).where(LoginFailure.key.in_(limits))))
        locks = [row.locked_until for row in counted if row.locked_until is not None and row.locked_until > now]
        if locks:
            raise LoginThrottled(max(locks) - now)
        user = self.authenticate(username, password)
        if user is None:
            self._count_failure(limits, now)
        elif any(row.key == f"user:{username[:64]}" for row in counted):
            with self._sessions.begin() as session:
                session.execute(delete(LoginFailure).where(LoginFailure.key == f"user:{username[:64]}"))
        return user

    def _count_failure(self, limits: dict[str, int], now: datetime) -> None:
        """One more failure for each key, several processes at once: rows are locked in key
        order (PostgreSQL), and a row another process inserted first is counted on again."""
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    for key in sorted(limits):
                        row = session.get(LoginFailure, key, with_for_update=True)
                        if row is None:
                            row = LoginFailure(key=key, failures=0, window_start=now)
                            session.add(row)
                        elif row.window_start <= now - FAILURE_WINDOW:
                            row.failures, row.window_start = 0, now
                        row.failures += 1
                        if row.failures >= limits[key]:
                            row.failures, row.window_start, row.locked_until = 0, now, now + LOCK
                    session.flush()
                    _forget_old_failures(session, now)
                return
            except IntegrityError:
                if attempt:
                    raise

    def signed_in(self, user_id: int, credential_version: Any) -> User:
        """The user a session cookie or an API token names, while the account is active and
        nothing (a logout, a new password, deactivation) has ended what was issued before."""
        with self._sessions() as session:
            user = session.get(User, user_id)
        if user is None or not user.active or user.credential_version != credential_version:
            raise NotAuthenticated("this login has ended (logged out, new password or deactivated); log in again")
        return user

    def log_out(self, user_id: int) -> None:
        """Ends every session cookie and API token of the user, on every device."""
        with self._sessions.begin() as session:
            next_version = User.credential_version + 1
            session.execute(update(User).where(User.id == user_id).values(credential_version=next_version))

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


def _forget_old_failures(session: Session, now: datetime) -> None:
    """Rows whose window and lock have both passed count for nothing; rows another process
    holds are left for a later failure (never waited for: no lock order to keep)."""
    stale = select(LoginFailure.key).where(
        LoginFailure.window_start <= now - FAILURE_WINDOW,
        or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now),
    )
    keys = list(session.scalars(stale.limit(100).with_for_update(skip_locked=True)))
    if keys:
        session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
