"""Open311 GeoReport v2 at /open311/v2, with the standard's own example requests adapted to our
codes: a client's report becomes a case on channel web that walks the usual lifecycle, anyone
reads its public part, and a bad key or field is refused in the standard's error format with
nothing stored."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event, text

from app import main as command_line
from engine import Gridflow
from engine.deadlines.clock import ManualClock

from .conftest import Api

FORM = "application/x-www-form-urlencoded; charset=utf-8"
# The standard's example POST (wiki.open311.org/GeoReport_v2, POST Service Request), with our
# service code (SJ0401 路面塌陷 for its sinkhole), the grid attribute in place of its own, and a
# position inside grid 03-02 of the demo town (a position must lie in the grid it names).
EXAMPLE_POST = (
    "api_key={key}&jurisdiction_id=city.gov&service_code=SJ0401&lat=35.17347461&long=118.83072710"
    "&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
    "&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
    "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg&attribute[grid]=03-02"
)


@pytest.fixture
def api_key(gridflow: Gridflow) -> str:
    return gridflow.open311.clients.issue_key("市民服务网站", "open311")


def post(api: Api, body: str | dict[str, str], format: str = "json", expect: int = 201) -> Any:
    if isinstance(body, dict):
        body = "&".join(f"{quote(name)}={quote(value)}" for name, value in body.items())
    answer = api.client.post(f"/open311/v2/requests.{format}", data=body, content_type=FORM)
    assert answer.status_code == expect, answer.get_data(as_text=True)
    return answer.get_json() if answer.is_json else ElementTree.fromstring(answer.data)


def read(api: Api, path: str, expect: int = 200) -> Any:
    answer = api.client.get(path if path.startswith("/") else f"/open311/v2/{path}")  # no key, no token: reads are open
    assert answer.status_code == expect, answer.get_data(as_text=True)
    return answer.get_json() if answer.is_json else ElementTree.fromstring(answer.data)


def local_instant(iso: str) -> str:
    """An instant as Open311 answers it: in the office's time zone, to the second."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")


def case_count(api: Api) -> int:
    return int(api.get("/api/cases?per_page=1", "operator")["total"])


def report(api: Api, api_key: str, **fields: str) -> str:
    """A valid Open311 report (店外经营 in grid 03-02) with some fields changed; its case number."""
    body = {
        "api_key": api_key,
        "service_code": "SJ0502",
        "attribute[grid]": "03-02",
        "address_string": "人民路 18 号",
        "description": "商户在店外摆放货架，占用人行道",
    } | fields
    return str(post(api, body)[0]["service_request_id"])


def test_services_are_our_categories_in_json_and_xml(api: Api, gridflow: Gridflow) -> None:
    services = read(api, "services.json")
    assert [s["service_code"] for s in services] == [c["code"] for c in gridflow.directory.categories()]
    assert next(s for s in services if s["service_code"] == "SJ0502") == {
        "service_code": "SJ0502",
        "service_name": "店外经营",
        "description": "事件 · 街面秩序 · 店外经营",
        "metadata": True,
        "type": "realtime",
        "keywords": "店外经营, 街面秩序, 事件",
        "group": "事件 · 街面秩序",
    }
    xml = read(api, "services.xml")
    assert xml.tag == "services"
    assert [s.findtext("service_code") for s in xml.findall("service")] == [s["service_code"] for s in services]
    assert xml.find("service/metadata").text == "true"


def test_a_service_definition_asks_for_the_grid_and_the_urgency(api: Api) -> None:
    definition = read(api, "services/SJ0502.json")
    assert definition["service_code"] == "SJ0502"
    grid, urgency = definition["attributes"]
    assert (grid["code"], grid["datatype"], grid["required"], grid["variable"], grid["order"]) == (
        "grid",
        "singlevaluelist",
        True,
        True,
        1,
    )
    assert len(grid["values"]) == 33
    assert {"key": "03-02", "name": "03网区2号网格"} in grid["values"]
    assert (urgency["code"], urgency["required"]) == ("urgency", False)
    assert urgency["values"] == [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}]
    xml = read(api, "services/SJ0502.xml")
    assert [a.findtext("code") for a in xml.findall("attributes/attribute")] == ["grid", "urgency"]
    assert len(xml.findall("attributes/attribute/values/value")) == 35
    assert read(api, "services/XX9999.json", expect=404) == [
        {"code": 404, "description": "问题类别（service_code）: unknown service 'XX9999'"}
    ]


def test_the_standards_example_report_becomes_a_web_case_verified_then_registered(api: Api, api_key: str) -> None:
    created = post(api, EXAMPLE_POST.format(key=api_key))
    assert created == [
        {
            "service_request_id": "20261125-0001",
            "service_notice": "已受理，案件编号 20261125-0001：经现场核实后由监督中心立案，派遣责任单位限时办结。",
            "account_id": "123456",  # as sent
        }
    ]
    # Channel web, like any citizen's report: the zone's collector verifies first.
    verify = next(t for t in api.inbox("collector03") if t["case_no"] == "20261125-0001")
    assert verify["task"] == "verify"
    case = api.case(verify["case_id"])
    assert (case["channel"], case["category"]["code"], case["grid"]["code"]) == ("web", "SJ0401", "03-02")
    assert (case["address"], case["description"]) == ("1234 5th street", "A large sinkhole is destroying the street")
    # The centre sees who reported and how to reach them; the public never does.
    reported = next(e for e in case["history"] if e["action"] == "report")  # one event, one transaction
    assert reported["actor"] == "open311"
    source = reported["detail"]["source"]
    assert source["client"] == "市民服务网站"
    assert source["contact"]["email"] == "smit333@sfgov.edu"
    assert source["lat_long"] == [35.17347461, 118.8307271]
    assert source["media_url"].endswith("2212426634_5ed477a060.jpg")

    api.complete("collector03", case["id"], "verify", found=True, note="现场确有塌陷")
    register = api.task("operator", case["id"], "register")
    assert register["case_no"] == "20261125-0001"

    public = read(api, "requests/20261125-0001.json")
    assert public == [
        {
            "service_request_id": "20261125-0001",
            "status": "open",
            "status_notes": "待立案",
            "service_name": "路面塌陷",
            "service_code": "SJ0401",
            "description": "A large sinkhole is destroying the street",
            "agency_responsible": None,
            "service_notice": None,
            "requested_datetime": "2026-11-25T09:00:00+08:00",
            "updated_datetime": "2026-11-25T09:00:00+08:00",
            "expected_datetime": "2026-11-25T09:10:00+08:00",  # the register task's deadline
            "address": "1234 5th street",
            "address_id": None,
            "zipcode": None,
            "lat": 35.17347461,
            "long": 118.8307271,
            "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
        }
    ]
    everything_public = str(read(api, "requests.json")) + api.client.get("/open311/v2/requests.xml").get_data(True)
    for private in ("smit333", "john", "111111111", "open311"):
        assert private not in everything_public


def test_status_turns_closed_when_the_case_is_closed(api: Api, api_key: str, clock: ManualClock) -> None:
    case_no = report(api, api_key, service_code="SJ0401", description="路面塌陷约一平方米")
    case_id = next(t["case_id"] for t in api.inbox("collector03") if t["case_no"] == case_no)
    api.complete("collector03", case_id, "verify", found=True, note="属实")
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="ZJJ")
    handling = read(api, f"requests/{case_no}.json")[0]
    assert handling["agency_responsible"] == "住建局"
    handle = api.task("zjj", case_id, "handle")
    assert handling["expected_datetime"] == local_instant(handle["due_at"])  # the handling deadline
    assert read(api, "requests.json?status=closed") == []
    api.complete("zjj", case_id, "handle", action="done", result="已回填修复")
    api.complete("collector03", case_id, "check", passed=True, note="已修复")
    clock.advance(timedelta(minutes=30))
    api.complete("operator", case_id, "close")

    closed = read(api, f"requests/{case_no}.json")[0]
    assert (closed["status"], closed["status_notes"], closed["agency_responsible"]) == ("closed", "已结案", "住建局")
    assert closed["updated_datetime"] == "2026-11-25T09:30:00+08:00"  # when it closed
    assert closed["expected_datetime"] is None  # nothing left to wait for
    assert [r["service_request_id"] for r in read(api, "requests.json?status=closed")] == [case_no]
    assert read(api, "requests.json?status=open") == []
    xml = read(api, f"requests/{case_no}.xml")
    assert xml.tag == "service_requests" and xml.findtext("request/status") == "closed"


def test_a_rejected_case_is_closed_too(api: Api, api_key: str) -> None:
    case_no = report(api, api_key)
    case_id = next(t["case_id"] for t in api.inbox("collector03") if t["case_no"] == case_no)
    api.complete("collector03", case_id, "verify", found=False, note="现场未发现")
    api.complete("operator", case_id, "register", decision="reject", reason="现场未发现")
    assert read(api, f"requests/{case_no}.json")[0]["status"] == "closed"


def test_a_bad_key_is_refused_in_the_standards_format_and_nothing_is_stored(
    api: Api, api_key: str, gridflow: Gridflow
) -> None:
    before = case_count(api)
    refused = [{"code": 403, "description": "API 密钥（api_key）: missing or invalid"}]
    assert post(api, EXAMPLE_POST.format(key="xyz"), expect=403) == refused
    assert post(api, EXAMPLE_POST.replace("api_key={key}&", ""), expect=403) == refused
    xml = post(api, EXAMPLE_POST.format(key="xyz"), format="xml", expect=403)
    assert (xml.tag, xml.findtext("error/code")) == ("errors", "403")
    gridflow.open311.clients.revoke("市民服务网站")
    assert post(api, EXAMPLE_POST.format(key=api_key), expect=403) == refused
    assert case_count(api) == before


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"attribute[grid]": ""}, 400, "attribute[grid]"),
        ({"attribute[grid]": "99-99"}, 400, "attribute[grid]"),
        ({"attribute[urgency]": "asap"}, 400, "attribute[urgency]"),
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "XX9999"}, 404, "service_code"),
        ({"description": "长" * 4001}, 400, "description"),
        ({"address_string": "", "address_id": "x" * 129}, 400, "address_id"),
        ({"zipcode": "2" * 17}, 400, "zipcode"),
        ({"account_id": "x" * 257}, 400, "account_id"),
        ({"address_string": ""}, 400, "address_string"),
        ({"address_string": "", "lat": "31.2"}, 400, "long"),
        ({"lat": "north", "long": "121.4"}, 400, "lat"),
        ({"lat": "31.2", "long": "181"}, 400, "long"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"email": "x" * 300}, 400, "email"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_stored(
    api: Api, api_key: str, change: dict[str, str], status: int, field: str
) -> None:
    before = case_count(api)
    body = {
        "api_key": api_key,
        "service_code": "SJ0502",
        "attribute[grid]": "03-02",
        "address_string": "人民路 18 号",
        "description": "商户在店外摆放货架",
    } | change
    errors = post(api, body, expect=status)
    assert len(errors) == 1 and errors[0]["code"] == status
    assert f"（{field}）: " in errors[0]["description"], errors
    assert case_count(api) == before


def test_a_position_without_an_address_is_the_address(api: Api, api_key: str) -> None:
    urgent = {"attribute[urgency]": "urgent"}
    case_no = report(api, api_key, address_string="", lat="35.1735", long="118.8307", **urgent)
    assert read(api, f"requests/{case_no}.json")[0]["address"] == "WGS84 35.1735, 118.8307"


# Inside grid 03-02 of the demo town, inside 01-01, and in the sea far from any grid.
IN_03_02, IN_01_01, NOWHERE = ("35.17347", "118.83073"), ("35.1772", "118.8205"), ("31.2304", "121.4737")


def test_a_position_alone_finds_its_grid_and_the_answers_carry_it(api: Api, api_key: str, gridflow: Gridflow) -> None:
    lat, long = IN_03_02
    body = {"api_key": api_key, "service_code": "SJ0502", "lat": lat, "long": long, "description": "店外经营"}
    case_no = str(post(api, body)[0]["service_request_id"])
    found = read(api, f"requests/{case_no}.json")[0]
    assert (found["lat"], found["long"]) == (35.17347, 118.83073)
    assert found["address"] == f"WGS84 {float(lat)}, {float(long)}"
    xml = read(api, f"requests/{case_no}.xml")
    assert (xml.findtext("request/lat"), xml.findtext("request/long")) == ("35.17347", "118.83073")
    case_id = next(t["case_id"] for t in api.inbox("collector03") if t["case_no"] == case_no)
    case = api.case(case_id)
    assert (case["grid"]["code"], case["lat"], case["long"]) == ("03-02", 35.17347, 118.83073)


def test_an_address_alone_still_takes_the_grid_attribute_and_has_no_position(api: Api, api_key: str) -> None:
    found = read(api, f"requests/{report(api, api_key)}.json")[0]
    assert (found["address"], found["lat"], found["long"]) == ("人民路 18 号", None, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": NOWHERE[0], "long": NOWHERE[1], "attribute[grid]": ""}, "lat"),
        ({"lat": NOWHERE[0], "long": NOWHERE[1]}, "lat"),
        ({"lat": IN_01_01[0], "long": IN_01_01[1]}, "attribute[grid]"),  # disagrees with 03-02
    ],
)
def test_a_position_in_no_grid_or_another_grid_is_refused(
    api: Api, api_key: str, change: dict[str, str], field: str
) -> None:
    before = case_count(api)
    errors = post(api, {"api_key": api_key, "service_code": "SJ0502", "attribute[grid]": "03-02"} | change, expect=400)
    assert len(errors) == 1 and f"（{field}）: " in errors[0]["description"], errors
    assert case_count(api) == before


def test_requests_filter_by_number_code_status_and_dates(api: Api, api_key: str, clock: ManualClock) -> None:
    first = report(api, api_key)
    clock.advance(timedelta(days=1))
    second = report(api, api_key, service_code="SJ0101")
    third = report(api, api_key, service_code="SJ0101")

    def numbers(query: str) -> list[str]:
        return [r["service_request_id"] for r in read(api, f"requests.json?{query}")]

    assert numbers("") == [third, second, first]  # newest first
    assert numbers(f"service_request_id={first},{third}") == [third, first]
    assert numbers(f"service_request_id={first}&service_code=SJ0101") == [first]  # the number overrides
    assert numbers("service_code=SJ0101") == [third, second]
    assert numbers("service_code=SJ0502,SJ0101") == [third, second, first]
    assert numbers("status=open") == [third, second, first]
    assert numbers("status=open,closed") == [third, second, first]
    assert numbers("start_date=2026-11-26T00:00:00%2B08:00") == [third, second]
    assert numbers("start_date=2026-11-26T00:00:00 08:00") == [third, second]  # an unencoded +
    assert numbers("end_date=2026-11-25T16:00:00Z") == [first]
    assert numbers("start_date=2026-08-01T00:00:00Z&end_date=2026-10-01T00:00:00Z") == []
    xml = read(api, "requests.xml?service_code=SJ0101")
    assert [r.findtext("service_request_id") for r in xml.findall("request")] == [third, second]

    for query, field in (
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-11-25T00:00:00Z", "end_date"),
        ("start_date=2026-11-25T00:00:00Z&end_date=2026-11-24T00:00:00Z", "end_date"),
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-11-25T00:00:00", "end_date"),
        ("start_date=0001-01-01T00:00:00Z", "start_date"),
        ("status=pending", "status"),
    ):
        errors = read(api, f"requests.json?{query}", expect=400)
        assert errors[0]["code"] == 400 and f"（{field}）: " in errors[0]["description"], (query, errors)
    assert read(api, "requests/20261125-9999.json", expect=404)[0]["code"] == 404


def test_routing_errors_under_open311_answer_in_the_standards_format(api: Api) -> None:
    assert read(api, "services.csv", expect=404) == [
        {"code": 404, "description": "格式（format）: answers come as .json or .xml, not .csv"}
    ]
    assert read(api, "nowhere.json", expect=404)[0]["code"] == 404
    answer = api.client.delete("/open311/v2/requests.json")
    assert answer.status_code == 405
    assert answer.get_json()[0]["code"] == 405
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_the_command_line_issues_a_key_shown_once_and_stored_as_its_hash(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDFLOW_INSTANCE", str(tmp_path / "command-line"))
    assert command_line(["open311-key", "12345-platform", "--user", "open311"]) == 0
    api_key = capsys.readouterr().out.strip().splitlines()[-1]
    db = create_engine(database_url)
    with db.connect() as connection:
        stored = connection.execute(text("SELECT key_sha256, active FROM open311_client WHERE name = '12345-platform'"))
        assert stored.one() == (hashlib.sha256(api_key.encode()).hexdigest(), True)
    db.dispose()
    report(api, api_key)

    assert command_line(["open311-key", "12345-platform", "--user", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err
    assert command_line(["open311-key", "12345-platform", "--revoke"]) == 0
    post(api, {"api_key": api_key, "service_code": "SJ0502"}, expect=403)


def test_only_citizens_own_reports_are_published_and_their_contact_stays_with_the_centre(
    api: Api, api_key: str
) -> None:
    case_no = report(api, api_key, email="citizen@example.com", phone="13800000000")
    hotline = api.report("operator", description="来电人张先生 13900000000 反映占道")  # channel hotline
    assert read(api, f"requests/{hotline['case_no']}.json", expect=404)
    assert [r["service_request_id"] for r in read(api, "requests.json")] == [case_no]

    case_id = next(c["id"] for c in api.get("/api/cases", "operator")["cases"] if c["case_no"] == case_no)
    centre = next(e for e in api.case(case_id, "operator")["history"] if e["action"] == "report")
    assert centre["detail"]["source"]["contact"]["phone"] == "13800000000"
    collector = next(e for e in api.case(case_id, "collector03")["history"] if e["action"] == "report")
    assert "source" not in collector["detail"]


def test_service_discovery_points_at_georeport_v2_in_json_and_xml(api: Api, admin_changes_a_category: None) -> None:
    discovery = read(api, "/open311/discovery.json")
    assert discovery == {
        "changeset": "2026-11-25T10:00:00+08:00",  # the category renamed below, the newest change of a service
        "contact": discovery["contact"],
        "key_service": discovery["key_service"],
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": "http://localhost/open311/v2",
                "changeset": "2026-11-25T10:00:00+08:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    assert "open311-key" in discovery["key_service"] and discovery["contact"]
    xml = read(api, "/open311/discovery.xml")
    assert (xml.tag, xml.findtext("changeset")) == ("discovery", "2026-11-25T10:00:00+08:00")
    assert xml.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert xml.findtext("endpoints/endpoint/type") == "production"
    assert [f.text for f in xml.findall("endpoints/endpoint/formats/format")] == ["application/json", "text/xml"]
    assert read(api, "/open311/discovery.csv", expect=404)[0]["code"] == 404
    # The endpoint it names answers.
    assert read(api, "services.json")[0]["service_code"]


@pytest.fixture
def admin_changes_a_category(gridflow: Gridflow, clock: ManualClock) -> None:
    clock.advance(timedelta(hours=1))
    admin = gridflow.directory.authenticate("admin", "demo")
    assert admin is not None
    gridflow.reference.change_category(admin.id, "SJ0502", gridflow.reference.category("SJ0502") | {"name": "店外占道"})


def test_a_report_without_a_description_reads_as_its_service(api: Api, api_key: str) -> None:
    body = {"api_key": api_key, "service_code": "SJ0401", "attribute[grid]": "03-02", "address_string": "人民路 18 号"}
    case_no = post(api, body)[0]["service_request_id"]  # the standard's description is optional
    assert read(api, f"requests/{case_no}.json")[0]["description"] == "路面塌陷"
    case_id = next(t["case_id"] for t in api.inbox("collector03") if t["case_no"] == case_no)
    assert api.case(case_id)["description"] == "路面塌陷"


def test_a_description_of_4000_characters_is_kept_whole(api: Api, api_key: str) -> None:
    long_text = "路面塌陷，" * 800  # 4000 characters, the standard's limit and a case's
    case_no = report(api, api_key, description=long_text)
    assert read(api, f"requests/{case_no}.json")[0]["description"] == long_text
    case_id = next(t["case_id"] for t in api.inbox("collector03") if t["case_no"] == case_no)
    assert api.case(case_id)["description"] == long_text


def test_an_address_id_alone_is_the_location_and_the_place_is_answered(api: Api, api_key: str) -> None:
    case_no = report(api, api_key, address_string="", address_id="310101-0042", zipcode="200001")
    [answered] = read(api, f"requests/{case_no}.json")
    assert (answered["address"], answered["address_id"], answered["zipcode"]) == (
        "address_id 310101-0042",
        "310101-0042",
        "200001",
    )
    assert (answered["lat"], answered["long"], answered["media_url"]) == (None, None, None)
    xml = read(api, f"requests/{case_no}.xml")
    assert (xml.findtext("request/address_id"), xml.findtext("request/zipcode")) == ("310101-0042", "200001")
    assert xml.find("request/lat").text is None


def test_a_page_of_requests_is_one_query(api: Api, api_key: str, gridflow: Gridflow) -> None:
    for number in range(5):
        report(api, api_key, lat="35.1735", long=f"118.830{number}", media_url=f"https://photos.example/{number}.jpg")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(gridflow.db, "before_cursor_execute", count)
    try:
        found = gridflow.open311.requests.find()
    finally:
        event.remove(gridflow.db, "before_cursor_execute", count)
    assert len(found) == 5 and len(statements) == 1, statements
    assert [case.long for case in found] == [118.8304, 118.8303, 118.8302, 118.8301, 118.83]
    assert all(case.media_url and case.expected_at for case in found)


def test_the_account_id_is_answered_as_sent(api: Api, api_key: str) -> None:
    body = {
        "api_key": api_key,
        "service_code": "SJ0502",
        "attribute[grid]": "03-02",
        "address_string": "人民路 18 号",
        "account_id": "citizen-42",
    }
    assert post(api, body)[0]["account_id"] == "citizen-42"
    assert post(api, body, format="xml").findtext("request/account_id") == "citizen-42"
    assert post(api, {name: value for name, value in body.items() if name != "account_id"})[0]["account_id"] is None
