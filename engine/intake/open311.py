"""Open311 GeoReport v2 in the engine: the outside systems allowed to report (each with its own
key), their service requests turned into cases, and the public view of cases anyone may read.
Field names and rules are the standard's (https://wiki.open311.org/GeoReport_v2), so an error
names the field the client sent, not ours."""
from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from ..cases import CaseRuntime
from ..deadlines import Clock
from ..errors import InvalidField, NotAuthenticated, NotFound
from ..storage import AuditEvent, Case, Category, Department, Open311Client, Task, User, record
from ..vocabulary import SYSTEM_ACTOR

CHANNEL = "web"  # 网站: a portal's reports are verified on site first, like any citizen's
# Our report's field -> the standard's name for it.
FIELD_NAMES = {
    "category": "service_code",
    "grid": "attribute[grid]",
    "urgency": "attribute[urgency]",
    "address": "address_string",
    "description": "description",
}
# Who reported and how to reach them: kept in the case's history for the centre, never published.
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "device_id", "account_id")
CONTACT_LENGTH = 256
MEDIA_URL_LENGTH = 2048
DESCRIPTION_LENGTH = 4000  # the standard's
# What a case's description holds (a hotline's or a collector's report too): a longer Open311
# description is cut there, and kept whole in the report event's source.
ADDRESS_ID_LENGTH = 128
ZIPCODE_LENGTH = 16
CLIENT_NAME_LENGTH = 64
WINDOW = timedelta(days=90)  # the standard's default window of GET requests, and its longest span
MAX_REQUESTS = 1000  # the standard's default limit of one answer
OPEN311_STATUSES = ("open", "closed")
# What a client may send in each text field, for the OpenAPI document to say.
FIELD_LENGTHS = {
    "description": DESCRIPTION_LENGTH,
    "address_id": ADDRESS_ID_LENGTH,
    "zipcode": ZIPCODE_LENGTH,
    "media_url": MEDIA_URL_LENGTH,
}
YEARS = (1970, 9000)
# The audit events that change what GET Service List and GET Service Definition answer: the
# categories (services) and the grids (the grid attribute's values).
SERVICE_CHANGES = ("load_demo_data", "reference_category", "reference_grid")
NEVER_CHANGED = datetime(1970, 1, 1, tzinfo=UTC)


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


# Only what citizens reported themselves is published: a hotline operator's, a collector's or a
# leader's description may carry names and telephone numbers that were never meant for the web.
PUBLISHED_CHANNELS = ("web", "wechat")


@dataclass(frozen=True)
class Open311Caller:
    client: str
    user_id: int
    username: str


@dataclass(frozen=True)
class PublicCase:
    """What the public may read of a case: never who reported it, nor how to reach them."""

    case_no: str
    status: str  # ours: verifying, handling, closed ...
    service_code: str
    service_name: str
    description: str
    agency: str | None  # the department holding the case, once dispatched
    address: str
    reported_at: datetime
    updated_at: datetime  # for an ended case, when it ended
    ended: bool  # the standard's two statuses: closed once the case's workflow ended, else open
    expected_at: datetime | None = None  # the deadline of its open task, when it has one
    # What an Open311 report gave of the place and a picture, kept on its report event
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None

    @property
    def open311_status(self) -> str:
        return "closed" if self.ended else "open"


class Open311Clients:
    """The API keys. A key is shown once when issued; only its SHA-256 is stored."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def issue_key(self, name: str, username: str) -> str:
        """A new key for the client of this name, reporting as the user; the client is created on
        first issue, and a key issued before for the same name stops working."""
        name = name.strip()
        if not name or len(name) > CLIENT_NAME_LENGTH:
            raise InvalidField("name", f"required, at most {CLIENT_NAME_LENGTH} characters")
        api_key = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._sessions.begin() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None or not user.active:
                raise InvalidField("user", f"no active user {username!r}")
            client = session.scalar(select(Open311Client).where(Open311Client.name == name))
            if client is None:
                client = Open311Client(name=name, created_at=now)
                session.add(client)
            client.key_sha256, client.user_id, client.active = _digest(api_key), user.id, True
            record(session, at=now, actor=SYSTEM_ACTOR, action="open311_key", detail={"client": name, "user": username})
        return api_key

    def revoke(self, name: str) -> None:
        with self._sessions.begin() as session:
            client = session.scalar(select(Open311Client).where(Open311Client.name == name))
            if client is None:
                raise NotFound(f"no Open311 client named {name!r}")
            client.active = False
            record(session, at=self._clock.now(), actor=SYSTEM_ACTOR, action="open311_revoke", detail={"client": name})

    def authenticate(self, api_key: str | None) -> Open311Caller | None:
        """The client an API key belongs to, while both it and its user account are active."""
        if not api_key:
            return None
        with self._sessions() as session:
            row = session.execute(
                select(Open311Client.name, User.id, User.username)
                .join(User, User.id == Open311Client.user_id)
                .where(Open311Client.key_sha256 == _digest(api_key), Open311Client.active, User.active)
            ).first()
            return Open311Caller(row[0], row[1], row[2]) if row else None


class ServiceRequests:
    """Service requests: a report from an outside client becomes a case on channel web; anyone
    may read the public part of every case."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, runtime: CaseRuntime, clients: Open311Clients
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._runtime = runtime
        self._clients = clients

    def report(self, api_key: str | None, form: Mapping[str, str]) -> PublicCase:
        """POST Service Request with the standard's form fields. Grid is the attribute every
        case needs; the location is address_string, else lat and long, else address_id. The
        description is optional (the case's then reads the service's name), up to 4000
        characters; the case holds the first 2000 and the report's event the whole text."""
        caller = self._clients.authenticate(api_key)
        if caller is None:
            raise NotAuthenticated("api_key: missing or invalid")
        service_code = _text(form, "service_code")
        if not service_code:
            raise InvalidField("service_code", "required")
        with self._sessions() as session:
            category = session.get(Category, service_code)
            if category is None:
                raise NotFound(f"service_code: unknown service {service_code!r}")
            service_name = category.name
        position = _position(form)
        place = {
            name: _checked_text(form, name, limit)
            for name, limit in (("address_id", ADDRESS_ID_LENGTH), ("zipcode", ZIPCODE_LENGTH))
        }
        address = _text(form, "address_string")
        if not address and position:
            address = f"WGS84 {position[0]}, {position[1]}"
        if not address and place["address_id"]:
            address = f"address_id {place['address_id']}"
        if not address:
            raise InvalidField("address_string", "required, or lat and long, or address_id")
        description = _checked_text(form, "description", DESCRIPTION_LENGTH)
        media_url = _text(form, "media_url")
        if media_url and (len(media_url) > MEDIA_URL_LENGTH or not media_url.startswith(("http://", "https://"))):
            raise InvalidField("media_url", f"must be an http(s) URL of at most {MEDIA_URL_LENGTH} characters")
        contact = {name: _checked_text(form, name, CONTACT_LENGTH) for name in CONTACT_FIELDS}
        report = {
            "category": service_code,
            "grid": _text(form, "attribute[grid]"),
            **({"lat": position[0], "long": position[1]} if position else {}),  # finds the grid when none is given
            "urgency": _text(form, "attribute[urgency]") or "normal",
            "address": address,
            "description": description or service_name,
            "channel": CHANNEL,
        }
        source = {
            "client": caller.client,
            "contact": {name: value for name, value in contact.items() if value},
            "lat_long": position,
            "media_url": media_url,
            **place,
        }
        try:
            case_id = self._runtime.report_case(
                caller.user_id, report, source={key: value for key, value in source.items() if value}
            )
        except InvalidField as error:
            raise InvalidField(FIELD_NAMES.get(error.field, error.field), error.reason) from error
        return self._public(Case.id == case_id)[0]

    def find(
        self,
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: str | None = None,
    ) -> list[PublicCase]:
        """GET Service Requests, newest first, at most 1000. Case numbers (comma separated)
        override every other filter; otherwise the window is at most 90 days of reporting,
        the last 90 days when no date is given."""
        numbers = _comma_list(service_request_id)
        if numbers:
            return self._public(Case.case_no.in_(numbers))
        start, end = _parse_instant("start_date", start_date), _parse_instant("end_date", end_date)
        if start is None and end is None:
            end = self._clock.now()
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
        if end < start:
            raise InvalidField("end_date", "must not be before start_date")
        if end - start > WINDOW:
            raise InvalidField("end_date", "the range may span at most 90 days")
        conditions = [Case.created_at >= start, Case.created_at <= end]
        codes = _comma_list(service_code)
        if codes:
            conditions.append(Case.category_code.in_(codes))
        statuses = set(_comma_list(status))
        if statuses - set(OPEN311_STATUSES):
            raise InvalidField("status", f"must be one or more of: {', '.join(OPEN311_STATUSES)}")
        if statuses == {"closed"}:
            conditions.append(Case.closed_at.is_not(None))
        elif statuses == {"open"}:
            conditions.append(Case.closed_at.is_(None))
        return self._public(*conditions)

    def changeset(self) -> datetime:
        """When the services or their definitions last changed (Service Discovery's changeset):
        the newest audit event that changed a category or a grid."""
        with self._sessions() as session:
            changed = session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.action.in_(SERVICE_CHANGES)))
        return changed or NEVER_CHANGED

    def get(self, service_request_id: str) -> PublicCase:
        found = self._public(Case.case_no == service_request_id)
        if not found:
            raise NotFound(f"service_request_id: no request {service_request_id!r}")
        return found[0]

    def _public(self, *conditions: ColumnElement[bool]) -> list[PublicCase]:
        """One query, however many cases match: the category and department names joined, the
        deadline of the open task, and what the report's event kept of the place and picture."""
        deadline = (
            select(func.min(Task.due_at))
            .where(Task.case_id == Case.id, Task.state == "open")
            .correlate(Case)
            .scalar_subquery()
        )
        query = (
            select(
                Case.case_no,
                Case.status,
                Category.code,
                Category.name,
                Case.description,
                Department.name,
                func.coalesce(Case.address, ""),  # a published report always has one
                Case.created_at,
                Case.updated_at,
                Case.closed_at,
                deadline,
                AuditEvent.detail,
                Case.lat,
                Case.lon,
            )
            .join(Category, Category.code == Case.category_code)
            .outerjoin(Department, Department.code == Case.department_code)
            .outerjoin(AuditEvent, and_(AuditEvent.case_id == Case.id, AuditEvent.action == "report"))
            .where(Case.channel.in_(PUBLISHED_CHANNELS), *conditions)
            .order_by(Case.id.desc())
            .limit(MAX_REQUESTS)
        )
        with self._sessions() as session:
            return [_public_case(row) for row in session.execute(query)]


def _public_case(row: Any) -> PublicCase:  # a Row of the query above, read by position
    # Only the public keys of the report's source: never its client or the citizen's contact.
    source = (row[11] or {}).get("source") or {}
    lat_long = source.get("lat_long") or (None, None)
    return PublicCase(
        case_no=row[0],
        status=row[1],
        service_code=row[2],
        service_name=row[3],
        description=row[4],
        agency=row[5],
        address=row[6],
        reported_at=row[7],
        updated_at=row[9] or row[8],
        ended=row[9] is not None,
        expected_at=None if row[9] is not None else row[10],
        address_id=source.get("address_id"),
        zipcode=source.get("zipcode"),
        lat=row[12] if row[12] is not None else lat_long[0],  # the case's own position, else what was sent
        long=row[13] if row[13] is not None else lat_long[1],
        media_url=source.get("media_url"),
    )


class Open311:
    """The engine's door for Open311: `clients` holds the keys, `requests` the service requests."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, runtime: CaseRuntime) -> None:
        self.clients = Open311Clients(sessions, clock)
        self.requests = ServiceRequests(sessions, clock, runtime, self.clients)


def _text(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _checked_text(form: Mapping[str, str], name: str, limit: int) -> str:
    value = _text(form, name)
    if len(value) > limit:
        raise InvalidField(name, f"must be at most {limit} characters")
    return value


def _comma_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()][:MAX_REQUESTS]


def _position(form: Mapping[str, str]) -> tuple[float, float] | None:
    """lat and long (WGS84) come together or not at all."""
    lat, long = _text(form, "lat"), _text(form, "long")
    if not lat and not long:
        return None
    for name, value, bound in (("lat", lat, 90), ("long", long, 180)):
        if not value:
            raise InvalidField(name, "required together with " + ("long" if name == "lat" else "lat"))
        try:
            number = float(value)
        except ValueError as exc:
            raise InvalidField(name, "must be a decimal number of degrees") from exc
        if not math.isfinite(number) or abs(number) > bound:
            raise InvalidField(name, f"must be between -{bound} and {bound}")
    return float(lat), float(long)


def _parse_instant(name: str, value: str | None) -> datetime | None:
    """The standard's w3 format, e.g. 2010-01-01T00:00:00Z, with its zone. A client that forgot
    to encode the + of an offset sends a space, which the query string decodes from +."""
    if not value:
        return None
    if "T" in value and value.count(" ") == 1:
        value = value.replace(" ", "+")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(name, "must be an ISO 8601 date and time, e.g. 2010-01-01T00:00:00Z") from exc
    if instant.tzinfo is None:
        raise InvalidField(name, "needs a time zone: Z or an offset such as +08:00")
    if not YEARS[0] <= instant.year <= YEARS[1]:  # and a window around it stays a datetime
        raise InvalidField(name, f"must be in the years {YEARS[0]} to {YEARS[1]}")
    return instant
