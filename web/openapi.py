"""The OpenAPI 3 document of /api and /open311/v2, served at /api/openapi.json.
tests/test_openapi.py keeps it true: every route is in it and every path in it is a route, and
schemathesis calls each operation and checks the answers against the schemas here."""
from __future__ import annotations

from typing import Any

from engine.calendar_days import KINDS
from engine.open311 import ADDRESS_ID_LENGTH, DESCRIPTION_LENGTH, MEDIA_URL_LENGTH, OPEN311_STATUSES, ZIPCODE_LENGTH
from engine.runtime import CHANNELS, URGENCIES

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """Every property listed is always present (null where it says nullable); more may come."""
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _nullable(schema: Schema) -> Schema:
    return schema | {"nullable": True}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
INSTANT = {"type": "string", "format": "date-time"}
INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: ids, pages and counts
ROW_ID = f"int(max={INTEGER_MAX})"  # the URL converter of a row id: larger ids are 404, not a 500
ID = {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


def _open311(schema: Schema, description: str) -> Schema:
    """Open311 answers in the format the path ends with."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}, "text/xml": {"schema": STRING}},
    }


def _open311_error(description: str) -> Schema:
    return _open311(_ref("Open311Errors"), description)


UNAUTHENTICATED = _error("no valid Bearer token")
FORBIDDEN = _error("not yours to read or do")
NOT_FOUND = _error("no such thing")
INVALID = _error("a bad field: `field` names it")
CONFLICT = _error("already completed, claimed or changed meanwhile")


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


DAY = {"name": "day", "in": "path", "required": True, "schema": {"type": "string", "format": "date"}}
PROCESS_ID = {
    "name": "process_id",
    "in": "path",
    "required": True,
    "schema": STRING,
    "example": "case_lifecycle",
    "description": "the BPMN process id",
}
FORMAT = {
    "name": "format",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["json", "xml"]},
    "description": "json or xml",
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": STRING,
            "field": STRING,
            "file": _nullable(STRING),
            "element": _nullable(STRING),
            "problems": _array(_ref("Problem")),
        },
        "required": ["error"],
    },
    "Problem": _object(
        {"element": _nullable(STRING), "message": STRING, "file": _nullable(STRING)},
    )
    | {"description": "one reason a deploy was refused, naming the BPMN element (null: the whole file)"},
    "Login": _object({"username": STRING, "password": STRING}),
    "Session": _object(
        {"token": STRING, "user": _object({"username": STRING, "display_name": STRING, "roles": _array(STRING)})}
    ),
    "Category": _object(
        {
            "code": STRING,
            "family": {"type": "string", "enum": ["component", "event"]},
            "class_code": STRING,
            "class_name": STRING,
            "name": STRING,
            "owner_department": _nullable(STRING),
            "limit_class": STRING,
            "emergency": BOOLEAN,
        }
    ),
    "Grid": _object(
        {
            "code": STRING,
            "name": STRING,
            "zone": STRING,
            "zone_name": _nullable(STRING),
            "territory_department": _nullable(STRING),
        }
    ),
    "Department": _object(
        {"code": STRING, "name": STRING, "kind": {"type": "string", "enum": ["functional", "street"]}}
    ),
    "Report": _object(
        {
            "category": STRING,
            "grid": STRING,
            "description": {"type": "string", "maxLength": 4000},
            "address": {"type": "string", "maxLength": 256},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
            "channel": {"type": "string", "enum": list(CHANNELS)},
        }
    )
    | {
        "example": {
            "category": "SJ0502",
            "grid": "03-02",
            "description": "商户在店外摆放货架，占用人行道",
            "address": "人民路 18 号",
            "urgency": "normal",
            "channel": "hotline",
        }
    },
    "Reported": _object({"id": INTEGER, "case_no": STRING, "status": STRING}),
    "CaseSummary": _object(
        {
            "id": INTEGER,
            "case_no": STRING,
            "status": STRING,
            # null for a case of a process without categories, grids and addresses (公文办理)
            "category": _nullable(_object({"code": STRING, "name": _nullable(STRING)})),
            "grid": _nullable(_object({"code": STRING, "name": _nullable(STRING), "zone": _nullable(STRING)})),
            "department": _nullable(_object({"code": STRING, "name": STRING})),
            "address": _nullable(STRING),
            "description": STRING,
            "urgency": STRING,
            "channel": STRING,
            "created_at": INSTANT,
            "updated_at": INSTANT,
            "closed_at": _nullable(INSTANT),
            "version": INTEGER,
        }
    ),
    "Case": {
        "allOf": [
            _ref("CaseSummary"),
            _object(
                {
                    "process": _object({"id": STRING, "version": INTEGER, "version_id": INTEGER}),
                    "photos": _array(
                        _object(
                            {
                                "sha256": STRING,
                                "content_type": STRING,
                                "size": INTEGER,
                                "uploaded_by": STRING,
                                "uploaded_at": INSTANT,
                            }
                        )
                    ),
                    "tasks": _array(_ref("Task")),
                    "history": _array(_ref("Event")),
                }
            ),
        ]
    },
    "CasePage": _object({"page": INTEGER, "per_page": INTEGER, "total": INTEGER, "cases": _array(_ref("CaseSummary"))}),
    "Task": _object(
        {
            "id": INTEGER,
            "case_id": INTEGER,
            "case_no": STRING,
            "task": STRING,
            "title": STRING,
            "role": _nullable(STRING),
            "department": _nullable(STRING),
            "zone": _nullable(STRING),
            "assignee_id": _nullable(INTEGER),
            "state": {"type": "string", "enum": ["open", "completed", "cancelled"]},
            "deadline_state": {"type": "string", "enum": ["normal", "warning", "overdue"]},
            "created_at": INSTANT,
            "due_at": _nullable(INSTANT),
            "completed_at": _nullable(INSTANT),
            "completed_by": _nullable(STRING),
        }
    ),
    "InboxTask": {
        # address: the case's address, or the start of its subject when it has none (a document)
        "allOf": [_ref("Task"), _object({"address": STRING, "grid": _nullable(STRING), "category": _nullable(STRING)})],
    },
    "Event": _object(
        {
            "id": INTEGER,
            "at": INSTANT,
            "actor": STRING,
            "action": STRING,
            "task": _nullable(STRING),
            "from_status": _nullable(STRING),
            "to_status": _nullable(STRING),
            "detail": {"type": "object"},
            "department_code": _nullable(STRING),
            "outcome": _nullable(STRING),
            "deadline_state": _nullable(STRING),
            "working_seconds": _nullable(INTEGER),
            "overdue_seconds": _nullable(INTEGER),
        }
    ),
    "TaskForm": _object(
        {
            "id": INTEGER,
            "case_id": INTEGER,
            "task": STRING,
            "title": STRING,
            "role": _nullable(STRING),
            "assignee_id": _nullable(INTEGER),
            "state": STRING,
            "fields": _array(
                _object(
                    {
                        "name": STRING,
                        "type": STRING,
                        "label": STRING,
                        "required": BOOLEAN,
                        "required_if": _nullable(STRING),
                        "choices": _nullable({"type": "object", "additionalProperties": STRING}),
                        "default": {"nullable": True, "description": "the value the diagram prefills"},
                    }
                )
            ),
        }
    ),
    "Submission": {
        "type": "object",
        "description": "the fields the task's form declares, by name",
        "additionalProperties": True,
    },
    "Definitions": _object(
        {
            "files": _array(
                _object(
                    {
                        "name": STRING,
                        "kind": {"type": "string", "enum": ["bpmn", "dmn"]},
                        "version": INTEGER,
                        "sha256": STRING,
                        "deployed_by": STRING,
                        "deployed_at": INSTANT,
                    }
                )
            ),
            "processes": _array(
                _object(
                    {
                        "id": STRING,
                        "name": STRING,
                        "version": INTEGER,
                        "files": {"type": "object", "additionalProperties": INTEGER},
                        "deployed_by": STRING,
                        "deployed_at": INSTANT,
                        "running_cases": INTEGER,
                    }
                )
            ),
        }
    ),
    "Deployment": _object(
        {
            "files": _array(_object({"name": STRING, "version": INTEGER})),
            "processes": _array(_object({"id": STRING, "version": INTEGER})),
        }
    ),
    "DefinitionElement": _object(
        {
            "element": STRING,
            "process": STRING,
            "type": STRING,
            "name": _nullable(STRING),
            "lane": _nullable(STRING),
        }
    ),
    "DefinitionDiff": _object(
        {
            "process_id": STRING,
            "from": _ref("DiffedVersion"),
            "to": _ref("DiffedVersion"),
            "added": _array(_ref("DefinitionElement")),
            "removed": _array(_ref("DefinitionElement")),
            "changed": _array(
                {
                    "allOf": [
                        _ref("DefinitionElement"),
                        _object(
                            {
                                "changes": _array(
                                    _object(
                                        {
                                            "what": {
                                                "type": "string",
                                                "description": "name, lane, property <name>, timer, script, "
                                                "condition towards <element>, incoming, outgoing, attached to, "
                                                "decision table <id> rule <id>, ...",
                                            },
                                            "from": {"nullable": True, "description": "before; null: absent"},
                                            "to": {"nullable": True, "description": "after; null: absent"},
                                        }
                                    )
                                )
                            }
                        ),
                    ]
                }
            ),
        }
    ),
    "DiffedVersion": _object(
        {
            "version": INTEGER,
            "files": {"type": "object", "additionalProperties": INTEGER},
            "deployed_by": STRING,
            "deployed_at": INSTANT,
        }
    ),
    "MigrationRequest": {
        "type": "object",
        "properties": {
            "from_version": {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX},
            "to_version": {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX},
            "case_ids": {
                "type": "array",
                "items": ID,
                "minItems": 1,
                "description": "the cases to move; left out: every open case on from_version",
            },
            "dry_run": {"type": "boolean", "description": "true: only list which cases would move and why not"},
        },
        "required": ["from_version", "to_version", "dry_run"],
        "example": {"from_version": 1, "to_version": 2, "dry_run": True},
    },
    "MigrationReport": _object(
        {
            "process_id": STRING,
            "from_version": INTEGER,
            "to_version": INTEGER,
            "dry_run": BOOLEAN,
            "migrated": _array(_ref("CaseMove")),
            "not_migrated": _array(_ref("CaseMove")),
        }
    ),
    "CaseMove": _object(
        {
            "case_id": INTEGER,
            "case_no": _nullable(STRING),
            "status": _nullable(STRING),
            "waiting_on": _array(STRING),
            "reasons": _array(STRING),
        }
    ),
    "CalendarDay": _object(
        {"day": {"type": "string", "format": "date"}, "kind": {"type": "string", "enum": list(KINDS)}, "note": STRING}
    ),
    "CalendarDayChange": {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": list(KINDS)}, "note": {"type": "string", "maxLength": 128}},
        "required": ["kind"],
    },
    # --- Open311 GeoReport v2 ---
    "Service": _object(
        {
            "service_code": STRING,
            "service_name": STRING,
            "description": STRING,
            "metadata": BOOLEAN,
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": STRING,
            "group": STRING,
        }
    ),
    "ServiceDefinition": _object(
        {
            "service_code": STRING,
            "attributes": _array(
                _object(
                    {
                        "variable": BOOLEAN,
                        "code": STRING,
                        "datatype": {
                            "type": "string",
                            "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"],
                        },
                        "required": BOOLEAN,
                        "datatype_description": _nullable(STRING),
                        "order": {"type": "integer", "minimum": 1},
                        "description": STRING,
                        "values": _array(_object({"key": STRING, "name": STRING})),
                    }
                )
            ),
        }
    ),
    "ServiceRequestForm": {
        "type": "object",
        "properties": {
            "api_key": {"type": "string", "description": "the client's key from `python app.py open311-key`"},
            "jurisdiction_id": {"type": "string", "description": "ignored: one jurisdiction"},
            "service_code": STRING,
            "attribute[grid]": {"type": "string", "description": "the grid code, from the service definition"},
            "attribute[urgency]": {"type": "string", "enum": list(URGENCIES)},
            "address_string": {"type": "string", "maxLength": 256},
            "address_id": {
                "type": "string",
                "maxLength": ADDRESS_ID_LENGTH,
                "description": "the jurisdiction's address id: the location when neither address_string nor lat and "
                "long is given",
            },
            "zipcode": {"type": "string", "maxLength": ZIPCODE_LENGTH},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "description": {
                "type": "string",
                "maxLength": DESCRIPTION_LENGTH,
                "description": "optional: the case then reads the service's name",
            },
            "media_url": {"type": "string", "maxLength": MEDIA_URL_LENGTH},
            "email": STRING,
            "device_id": STRING,
            "account_id": STRING,
            "first_name": STRING,
            "last_name": STRING,
            "phone": STRING,
        },
        "required": ["api_key", "service_code", "attribute[grid]"],
        "example": {
            "api_key": "the client's key",
            "service_code": "SJ0401",
            "attribute[grid]": "03-02",
            "address_string": "人民路 18 号",
            "description": "路面塌陷约一平方米",
            "phone": "13800000000",
        },
    },
    "ServiceRequestCreated": _array(
        _object(
            {
                "service_request_id": STRING,
                "service_notice": STRING,
                "account_id": _nullable({"type": "string", "description": "as the report sent it"}),
            }
        )
    ),
    "ServiceRequest": _object(
        {
            "service_request_id": STRING,
            "status": {"type": "string", "enum": list(OPEN311_STATUSES)},
            "status_notes": STRING,
            "service_name": STRING,
            "service_code": STRING,
            "description": STRING,
            "agency_responsible": _nullable(STRING),
            "service_notice": _nullable(STRING),
            "requested_datetime": INSTANT,
            "updated_datetime": INSTANT,
            "expected_datetime": _nullable(INSTANT | {"description": "the open task's deadline, when it has one"}),
            "address": STRING,
            "address_id": _nullable(STRING),
            "zipcode": _nullable(STRING),
            "lat": _nullable({"type": "number"}),
            "long": _nullable({"type": "number"}),
            "media_url": _nullable(STRING),
        }
    ),
    "Discovery": _object(
        {
            "changeset": INSTANT | {"description": "when the services or their definitions last changed"},
            "contact": STRING,
            "key_service": STRING,
            "endpoints": _array(
                _object(
                    {
                        "specification": STRING,
                        "url": STRING,
                        "changeset": INSTANT,
                        "type": {"type": "string", "enum": ["production", "test"]},
                        "formats": _array(STRING),
                    }
                )
            ),
        }
    ),
    "Open311Errors": _array(_object({"code": INTEGER, "description": STRING})),
}


def _api_paths() -> dict[str, Schema]:
    secured: dict[str, Any] = {"security": [{"bearer": []}]}
    return {
        "/api/health": {
            "get": {
                "summary": "is the service up",
                "security": [],
                "responses": {"200": _json(_object({"status": {"type": "string", "enum": ["ok"]}}), "ok")},
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "this document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
            }
        },
        "/api/login": {
            "post": {
                "summary": "a token for 12 hours",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Login")}}},
                "responses": {
                    "200": _json(_ref("Session"), "logged in"),
                    "401": _error("wrong username or password"),
                    "422": INVALID,
                    "429": _error("too many failed logins for this user or from this address: try again after "
                                  "Retry-After seconds (`field` is username)"),
                },
            }
        },
        "/api/logout": {
            "post": secured
            | {
                "summary": "end every token and page session of the caller",
                "responses": {"204": {"description": "logged out everywhere"}, "401": UNAUTHENTICATED},
            }
        },
        "/api/categories": {
            "get": secured
            | {
                "summary": "the classification of problems",
                "responses": {"200": _json(_array(_ref("Category")), "every category"), "401": UNAUTHENTICATED},
            }
        },
        "/api/grids": {
            "get": secured
            | {
                "summary": "the grids with their zone and territory department",
                "responses": {"200": _json(_array(_ref("Grid")), "every grid"), "401": UNAUTHENTICATED},
            }
        },
        "/api/departments": {
            "get": secured
            | {
                "summary": "the departments",
                "responses": {"200": _json(_array(_ref("Department")), "every department"), "401": UNAUTHENTICATED},
            }
        },
        "/api/cases": {
            "post": secured
            | {
                "summary": "上报: report a case",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Report")}}},
                "responses": {"201": _json(_ref("Reported"), "the new case"), "401": UNAUTHENTICATED, "422": INVALID},
            },
            "get": secured
            | {
                "summary": "a page of the cases the caller may read, newest first",
                "parameters": [
                    _query("status", STRING),
                    _query("department", STRING),
                    _query("grid", STRING),
                    _query("page", {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX}),
                    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 200}),
                ],
                "responses": {"200": _json(_ref("CasePage"), "a page"), "401": UNAUTHENTICATED, "422": INVALID},
            },
        },
        "/api/processes": {
            "get": secured
            | {
                "summary": "发起: the processes the caller starts from a form, with their forms",
                "responses": {
                    "200": _json(
                        _array(
                            _object(
                                {"id": STRING, "name": STRING, "version": INTEGER, "fields": _array({"type": "object"})}
                            )
                        ),
                        "the processes",
                    ),
                    "401": UNAUTHENTICATED,
                },
            }
        },
        "/api/processes/{process_id}/cases": {
            "post": secured
            | {
                "summary": "start a case of a process from its start form (e.g. 公文办理)",
                "parameters": [{"name": "process_id", "in": "path", "required": True, "schema": STRING}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "201": _json(_ref("Reported"), "the new case"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "422": INVALID,
                },
            }
        },
        "/api/cases/{case_id}": {
            "get": secured
            | {
                "summary": "a case with its open tasks and history",
                "parameters": [_path_id("case_id")],
                "responses": {
                    "200": _json(_ref("Case"), "the case"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/tasks": {
            "get": secured
            | {
                "summary": "the caller's inbox, nearest deadline first",
                "parameters": [
                    _query("stage", STRING, "the BPMN task id"),
                    _query("department", STRING),
                    _query("grid", STRING),
                    _query("category", STRING),
                    _query("q", STRING, "a case number or address fragment"),
                    _query("limit", {"type": "integer", "minimum": 0, "maximum": INTEGER_MAX}),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": INTEGER_MAX}),
                ],
                "responses": {
                    "200": _json(_array(_ref("InboxTask")), "open tasks"),
                    "401": UNAUTHENTICATED,
                    "422": INVALID,
                },
            }
        },
        "/api/tasks/{task_id}": {
            "get": secured
            | {
                "summary": "a task's form, prefilled",
                "parameters": [_path_id("task_id")],
                "responses": {
                    "200": _json(_ref("TaskForm"), "the form"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/tasks/{task_id}/complete": {
            "post": secured
            | {
                "summary": "complete a task with its form's fields",
                "parameters": [_path_id("task_id")],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Submission")}}},
                "responses": {
                    "200": _json(_ref("Case"), "the case after the step"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "409": CONFLICT,
                    "422": INVALID,
                },
            }
        },
        "/api/tasks/{task_id}/claim": {
            "post": secured
            | {
                "summary": "签收: take a task the lane shares",
                "parameters": [_path_id("task_id")],
                "responses": {
                    "200": _json(_ref("TaskForm"), "the task"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "409": CONFLICT,
                },
            }
        },
        "/api/tasks/{task_id}/release": {
            "post": secured
            | {
                "summary": "退回: give a claimed task back to the lane",
                "parameters": [_path_id("task_id")],
                "responses": {
                    "200": _json(_ref("TaskForm"), "the task"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "409": CONFLICT,
                },
            }
        },
        "/api/definitions": {
            "get": secured
            | {
                "summary": "every deployed file and process version, with running cases (administrator)",
                "responses": {
                    "200": _json(_ref("Definitions"), "the versions"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                },
            },
            "post": secured
            | {
                "summary": "deploy .bpmn and .dmn files (administrator)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Deployment"), "nothing changed"),
                    "201": _json(_ref("Deployment"), "the new versions"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "422": _error(
                        "refused, nothing stored: every problem the parser and our checks found in `problems`, "
                        "each naming its element; `error` has them all as text, `file` and `element` the first's"
                    ),
                },
            },
        },
        "/api/definitions/{process_id}/diff": {
            "get": secured
            | {
                "summary": "what changed between two versions of a process: elements added, removed, changed "
                "(administrator)",
                "parameters": [
                    PROCESS_ID,
                    _query("from", {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX}, "default: to - 1"),
                    _query("to", {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX}, "default: the newest"),
                ],
                "responses": {
                    "200": _json(_ref("DefinitionDiff"), "the differences"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": _error("no such process or version (or only one version)"),
                    "422": INVALID,
                },
            }
        },
        "/api/definitions/{process_id}/migrations": {
            "post": secured
            | {
                "summary": "move running cases to a newer version of their process, or list what would (administrator)",
                "parameters": [PROCESS_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MigrationRequest")}},
                },
                "responses": {
                    "200": _json(
                        _ref("MigrationReport"),
                        "the cases moved (in a dry run: that would move) and those that cannot, with why",
                    ),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": _error("no such process or version"),
                    "422": INVALID,
                },
            }
        },
        "/api/calendar/days": {
            "get": secured
            | {
                "summary": "the administrator's extra holidays and working days",
                "responses": {"200": _json(_array(_ref("CalendarDay")), "the days"), "401": UNAUTHENTICATED},
            }
        },
        "/api/calendar/days/{day}": {
            "put": secured
            | {
                "summary": "set a day as a holiday or a working day (administrator)",
                "parameters": [DAY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CalendarDayChange")}},
                },
                "responses": {
                    "200": _json(_ref("CalendarDay"), "the day as stored"),
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "422": INVALID,
                },
            },
            "delete": secured
            | {
                "summary": "remove a day from the table (administrator)",
                "parameters": [DAY],
                "responses": {
                    "204": {"description": "removed"},
                    "401": UNAUTHENTICATED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "422": INVALID,
                },
            },
        },
    }


def _open311_paths() -> dict[str, Schema]:
    open_read: dict[str, Any] = {"security": [], "tags": ["Open311 GeoReport v2"]}
    requests_found = _open311(_array(_ref("ServiceRequest")), "the requests, newest first, at most 1000")
    return {
        "/open311/discovery.{format}": {
            "get": open_read
            | {
                "summary": "Service Discovery: where GeoReport v2 is, its formats, when its services changed",
                "parameters": [FORMAT],
                "responses": {
                    "200": _open311(_ref("Discovery"), "the discovery document"),
                    "404": _open311_error("unknown format"),
                },
            }
        },
        "/open311/v2/services.{format}": {
            "get": open_read
            | {
                "summary": "GET Service List: our categories",
                "parameters": [FORMAT],
                "responses": {
                    "200": _open311(_array(_ref("Service")), "every service"),
                    "404": _open311_error("unknown format"),
                },
            }
        },
        "/open311/v2/services/{service_code}.{format}": {
            "get": open_read
            | {
                "summary": "GET Service Definition: the grid (required) and urgency attributes",
                "parameters": [
                    {"name": "service_code", "in": "path", "required": True, "schema": STRING, "example": "SJ0502"},
                    FORMAT,
                ],
                "responses": {
                    "200": _open311(_ref("ServiceDefinition"), "the definition"),
                    "404": _open311_error("unknown service_code or format"),
                },
            }
        },
        "/open311/v2/requests.{format}": {
            "post": {
                "summary": "POST Service Request: report a case (channel web), with the client's api_key",
                "tags": ["Open311 GeoReport v2"],
                "security": [{"open311_api_key": []}],
                "parameters": [FORMAT],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": _ref("ServiceRequestForm")}},
                },
                "responses": {
                    "201": _open311(_ref("ServiceRequestCreated"), "the case's number"),
                    "400": _open311_error("a bad field, named in the description"),
                    "403": _open311_error("missing or invalid api_key"),
                    "404": _open311_error("unknown service_code or format"),
                },
            },
            "get": open_read
            | {
                "summary": "GET Service Requests",
                "parameters": [
                    FORMAT,
                    _query("service_request_id", STRING, "case numbers, comma separated; overrides the rest"),
                    _query("service_code", STRING, "comma separated"),
                    _query("start_date", INSTANT, "reported at or after; the window spans at most 90 days"),
                    _query("end_date", INSTANT, "reported at or before; default: now, or 90 days after start_date"),
                    _query("status", {"type": "string", "enum": ["open", "closed", "open,closed"]}),
                ],
                "responses": {
                    "200": requests_found,
                    "400": _open311_error("a bad parameter, named in the description"),
                    "404": _open311_error("unknown format"),
                },
            },
        },
        "/open311/v2/requests/{service_request_id}.{format}": {
            "get": open_read
            | {
                "summary": "GET Service Request",
                "parameters": [
                    {
                        "name": "service_request_id",
                        "in": "path",
                        "required": True,
                        "schema": STRING,
                        "example": "20261125-0001",
                    },
                    FORMAT,
                ],
                "responses": {
                    "200": requests_found,
                    "404": _open311_error("no such request, or unknown format"),
                },
            }
        },
    }


def _with_unreadable_bodies(paths: dict[str, Schema]) -> dict[str, Schema]:
    """Every operation that reads a JSON body answers 400 for one it cannot read at all."""
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["responses"].setdefault("400", _error("the body is not readable JSON"))
    return paths


def openapi_document() -> Schema:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Gridflow 网格化城市管理",
            "version": "1",
            "description": "The JSON API of the supervision and command centres (/api, Bearer token from "
            "POST /api/login) and Open311 GeoReport v2 for outside systems (/open311/v2).",
        },
        "paths": _with_unreadable_bodies(_api_paths()) | _open311_paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                # OpenAPI 3 has no form location for an API key: a query parameter is the nearest.
                "open311_api_key": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "api_key",
                    "description": "an Open311 client's key from `python app.py open311-key`, sent as the form field "
                    "api_key of the POST body, as GeoReport v2 says (never in the URL, where logs would keep it)",
                },
            },
        },
        "security": [{"bearer": []}],
    }
