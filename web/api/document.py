"""The OpenAPI 3.1 document of /api and /open311/v2, served at /api/openapi.json.
/api is generated: each view's bodies and answers are pydantic models (web/api/requests.py and answers.py) that
spectree also checks requests against. Open311 GeoReport v2 is form-encoded and answers in JSON
or XML by the path's suffix, which those models cannot say: it is described here by hand.
tests/test_openapi.py keeps it true: every route is in it and every path in it is a route, and
schemathesis calls each operation and checks the answers against the schemas here."""
from __future__ import annotations

import copy
from typing import Any

from engine import OPEN311_FIELD_LENGTHS, OPEN311_STATUSES, URGENCIES

from .requests import api_spec

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """Every property listed is always present (null where it says so); more may come."""
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
INSTANT = {"type": "string", "format": "date-time"}


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


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# What a path parameter of /api is, beyond the string or bounded integer its URL converter says.
PATH_PARAMETERS: dict[str, Schema] = {
    "day": {"schema": {"type": "string", "format": "date"}},
    "process_id": {"example": "case_lifecycle", "description": "the BPMN process id"},
}
FORMAT = {
    "name": "format",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["json", "xml"]},
    "description": "json or xml",
}

OPEN311_SCHEMAS: dict[str, Schema] = {
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
                "maxLength": OPEN311_FIELD_LENGTHS["address_id"],
                "description": "the jurisdiction's address id: the location when neither address_string nor lat and "
                "long is given",
            },
            "zipcode": {"type": "string", "maxLength": OPEN311_FIELD_LENGTHS["zipcode"]},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "description": {
                "type": "string",
                "maxLength": OPEN311_FIELD_LENGTHS["description"],
                "description": "optional: the case then reads the service's name",
            },
            "media_url": {"type": "string", "maxLength": OPEN311_FIELD_LENGTHS["media_url"]},
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
                # No Bearer token: the key is the required form field api_key of the body, as
                # GeoReport v2 says (never in the URL, where logs would keep it). OpenAPI's apiKey
                # schemes know no form location, so the body's schema is where it is described.
                "security": [],
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


def _api_paths() -> dict[str, Schema]:
    """The operations of /api as spectree documents them from the views' models."""
    paths: dict[str, Schema] = copy.deepcopy(api_spec.spec["paths"])
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter.update(copy.deepcopy(PATH_PARAMETERS.get(parameter["name"], {})))
                    if parameter.get("schema", {}).get("type") == "integer":
                        parameter["schema"]["minimum"] = 1  # a row id
    return paths


def _with_unreadable_bodies(paths: dict[str, Schema]) -> dict[str, Schema]:
    """Every operation that reads a JSON body answers 400 for one it cannot read at all."""
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["responses"].setdefault("400", _error("the body is not readable JSON"))
    return paths


def openapi_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gridflow 网格化城市管理",
            "version": "1",
            "description": "The JSON API of the supervision and command centres (/api, Bearer token from "
            "POST /api/login) and Open311 GeoReport v2 for outside systems (/open311/v2).",
        },
        "paths": _with_unreadable_bodies(_api_paths()) | _open311_paths(),
        "components": {
            "schemas": copy.deepcopy(api_spec.spec["components"]["schemas"]) | OPEN311_SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
