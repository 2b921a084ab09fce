"""Open311 GeoReport v2 at /open311/v2, found through Service Discovery at /open311/discovery:
the outside world reports and follows cases. Every resource answers as .json or .xml; errors
are the standard's list of {code, description}. Reading needs no key; reporting needs the
client's api_key (`python app.py open311-key`)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from engine import Forbidden, GridflowError, InvalidField, NotAuthenticated, NotFound, ProcessError, PublicCase

from .auth import engine
from .pages import STATUS_NAMES, URGENCY_NAMES

bp = Blueprint("open311", __name__, url_prefix="/open311")
VERSION = "/v2"  # GeoReport v2's resources; Service Discovery sits above them
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"

FORMATS = ("json", "xml")
MEDIA_TYPES = {"xml": "text/xml", "json": "application/json"}
# Service Discovery's contact and key_service: instance/config.py may say who runs this office.
DEFAULT_CONTACT = "网格化城市管理监督指挥中心 / the city's grid management supervision and command centre"
DEFAULT_KEY_SERVICE = (
    "API 密钥由监督指挥中心的管理员签发 / keys are issued by the centre's administrator: "
    "python app.py open311-key <client> --user <account>"
)
FAMILY_NAMES = {"component": _l("部件"), "event": _l("事件")}
# Chinese labels before the standard's field names in error descriptions, which people read.
FIELD_LABELS = {
    "api_key": _l("API 密钥"),
    "service_code": _l("问题类别"),
    "attribute[grid]": _l("网格"),
    "attribute[urgency]": _l("紧急程度"),
    "address_string": _l("地址"),
    "address_id": _l("地址编号"),
    "zipcode": _l("邮政编码"),
    "description": _l("问题描述"),
    "lat": _l("纬度"),
    "long": _l("经度"),
    "media_url": _l("图片链接"),
    "email": _l("电子邮箱"),
    "first_name": _l("名"),
    "last_name": _l("姓"),
    "phone": _l("电话"),
    "device_id": _l("设备编号"),
    "account_id": _l("账号"),
    "service_request_id": _l("案件编号"),
    "start_date": _l("开始时间"),
    "end_date": _l("结束时间"),
    "status": _l("状态"),
    "format": _l("格式"),
}
# Open311's XML wraps each list item in an element named for it; JSON is the same tree.
XML_ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry, even escaped; a description typed elsewhere may hold one.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- service discovery ----------------------------------------------------------------------------

@bp.get("/discovery.<format>")
def discovery(format: str) -> Response:
    """Where GeoReport v2 is, in which formats, and when its services last changed."""
    _check_format(format)
    changeset = _instant(engine().open311.requests.changeset())
    endpoint = {
        "specification": SPECIFICATION,
        "url": request.url_root.rstrip("/") + (bp.url_prefix or "") + VERSION,
        "changeset": changeset,
        "type": "production",
        "formats": [MEDIA_TYPES[name] for name in FORMATS],
    }
    document = {
        "changeset": changeset,
        "contact": current_app.config.get("OPEN311_CONTACT") or DEFAULT_CONTACT,
        "key_service": current_app.config.get("OPEN311_KEY_SERVICE") or DEFAULT_KEY_SERVICE,
        "endpoints": [endpoint],
    }
    return _answer(format, "discovery", document)


# --- services -----------------------------------------------------------------------------------

@bp.get(VERSION + "/services.<format>")
def services(format: str) -> Response:
    _check_format(format)
    listed = [_service(category) for category in engine().directory.categories()]
    return _answer(format, "services", listed)


@bp.get(VERSION + "/services/<service_code>.<format>")
def service_definition(service_code: str, format: str) -> Response:
    _check_format(format)
    category = next((c for c in engine().directory.categories() if c["code"] == service_code), None)
    if category is None:
        raise NotFound(f"service_code: unknown service {service_code!r}")
    grids = engine().directory.grids()
    definition = {
        "service_code": service_code,
        "attributes": [
            {
                "variable": True,
                "code": "grid",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": _("单元网格编码，如 03-02"),
                "order": 1,
                "description": _("问题所在的单元网格"),
                "values": [{"key": grid["code"], "name": grid["name"]} for grid in grids],
            },
            {
                "variable": True,
                "code": "urgency",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": _("不填为一般"),
                "order": 2,
                "description": _("紧急程度"),
                "values": [{"key": key, "name": str(name)} for key, name in URGENCY_NAMES.items()],
            },
        ],
    }
    return _answer(format, "service_definition", definition)


def _service(category: dict[str, Any]) -> dict[str, Any]:
    family = str(FAMILY_NAMES.get(category["family"], category["family"]))
    return {
        "service_code": category["code"],
        "service_name": category["name"],
        "description": f"{family} · {category['class_name']} · {category['name']}",
        "metadata": True,  # every case needs its grid: the definition asks for it
        "type": "realtime",
        "keywords": ", ".join((category["name"], category["class_name"], family)),
        "group": f"{family} · {category['class_name']}",
    }


# --- requests -----------------------------------------------------------------------------------

@bp.post(VERSION + "/requests.<format>")
def report(format: str) -> Response:
    _check_format(format)  # before the case exists, not after
    case = engine().open311.requests.report(request.form.get("api_key"), request.form)
    notice = _("已受理，案件编号 %(case_no)s：经现场核实后由监督中心立案，派遣责任单位限时办结。", case_no=case.case_no)
    account_id = (request.form.get("account_id") or "").strip() or None  # checked by the engine
    created = [{"service_request_id": case.case_no, "service_notice": notice, "account_id": account_id}]
    return _answer(format, "service_requests", created, status=201)


@bp.get(VERSION + "/requests.<format>")
def find_requests(format: str) -> Response:
    _check_format(format)
    found = engine().open311.requests.find(
        service_request_id=request.args.get("service_request_id"),
        service_code=request.args.get("service_code"),
        start_date=request.args.get("start_date"),
        end_date=request.args.get("end_date"),
        status=request.args.get("status"),
    )
    return _answer(format, "service_requests", [_request(case) for case in found])


@bp.get(VERSION + "/requests/<service_request_id>.<format>")
def service_request(service_request_id: str, format: str) -> Response:
    _check_format(format)
    case = engine().open311.requests.get(service_request_id)
    return _answer(format, "service_requests", [_request(case)])


def _request(case: PublicCase) -> dict[str, Any]:
    return {
        "service_request_id": case.case_no,
        "status": case.open311_status,
        "status_notes": str(STATUS_NAMES.get(case.status, case.status)),
        "service_name": case.service_name,
        "service_code": case.service_code,
        "description": case.description,
        "agency_responsible": case.agency,
        "service_notice": None,
        "requested_datetime": _instant(case.reported_at),
        "updated_datetime": _instant(case.updated_at),
        "expected_datetime": _instant(case.expected_at) if case.expected_at else None,
        "address": case.address,
        "address_id": case.address_id,
        "zipcode": case.zipcode,
        "lat": case.lat,
        "long": case.long,
        "media_url": case.media_url,
    }


def _instant(moment: datetime) -> str:
    """In the office's time zone, with its offset, as the standard's w3 format asks."""
    return moment.astimezone(ZoneInfo(engine().settings.timezone)).isoformat(timespec="seconds")


# --- answers and errors -------------------------------------------------------------------------

def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise NotFound(f"format: answers come as .{' or .'.join(FORMATS)}, not .{format}")


def _answer(format: str, root: str, content: Any, status: int = 200) -> Response:
    _check_format(format)
    if format == "json":
        answer = jsonify(content)
    else:
        xml = ElementTree.tostring(_element(root, content), encoding="unicode")
        answer = Response(f'<?xml version="1.0" encoding="utf-8"?>\n{xml}', content_type="text/xml; charset=utf-8")
    answer.status_code = status
    return answer


def _element(tag: str, content: Any) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(content, list):
        element.extend(_element(XML_ITEMS[tag], item) for item in content)
    elif isinstance(content, dict):
        element.extend(_element(name, value) for name, value in content.items())
    elif isinstance(content, bool):
        element.text = "true" if content else "false"
    elif content is not None:
        element.text = XML_INVALID.sub("", str(content))
    return element


def _errors(code: int, description: str) -> Response:
    """In the format the client asked for; an unknown one gets JSON."""
    format = (request.view_args or {}).get("format")
    errors = [{"code": code, "description": description}]
    return _answer(format if format in FORMATS else "json", "errors", errors, status=code)


def _labelled(message: str) -> str:
    """'attribute[grid]: required' -> '网格（attribute[grid]）: required'. Open311's engine
    messages begin with the standard's name of the field they concern."""
    field, separator, reason = message.partition(": ")
    label = FIELD_LABELS.get(field)
    return f"{label}（{field}）: {reason}" if separator and label else message


@bp.errorhandler(GridflowError)
def _engine_error(error: GridflowError) -> Response:
    # The standard's codes: 403 for a missing or wrong api_key, 404 for what does not exist,
    # 400 for every other request it cannot fulfil.
    if isinstance(error, InvalidField):
        return _errors(400, _labelled(f"{error.field}: {error.reason}"))
    if isinstance(error, NotAuthenticated | Forbidden):
        return _errors(403, _labelled(str(error)))
    if isinstance(error, NotFound):
        return _errors(404, _labelled(str(error)))
    if isinstance(error, ProcessError):
        return _errors(500, f"the process definition failed: {error}")
    return _errors(400, str(error))


def http_error(error: HTTPException) -> Response:
    """Routing errors under /open311 (unknown path, wrong method, too large) and a field the
    door refused before any route ("field: reason"), for the app's handlers."""
    answer = _errors(error.code or 500, _labelled(error.description or error.name))
    answer.headers.extend((name, value) for name, value in error.get_headers() if name == "Allow")
    return answer
