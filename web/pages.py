"""Words and numbers the pages share: status names, time left in working time."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Response, render_template, request, send_file, url_for
from flask_babel import gettext, lazy_pgettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.urls import iri_to_uri

from engine import CHANNELS, ROLES, URGENCIES, InvalidField


def N_(message: str) -> str:
    """Marks a word for the catalogue (pybabel's default keyword) where it is translated later,
    when it is shown: a column heading, a word the engine keeps in Chinese."""
    return message

STATUS_NAMES = {
    "verifying": _l("待核实"),
    "registering": _l("待立案"),
    "dispatching": _l("待派遣"),
    "handling": _l("处置中"),
    "checking": _l("待核查"),
    "closing": _l("待结案"),
    "closed": _l("已结案"),
    "rejected": _l("不予立案"),
    "started": _l("已发起"),
    "doc_registering": _l("待登记"),
    "signing": _l("待领导批示"),
    "doc_handling": _l("办理中"),
    "filing": _l("待归档"),
    "filed": _l("已归档"),
}
EVENT_NAMES = {
    "report": _l("上报"),
    "start": lazy_pgettext("event", "发起"),
    "migrate": _l("迁移到新版本"),
    "claim": lazy_pgettext("event", "签收"),
    "release": _l("退回任务池"),
    "timer_failed": _l("计时失败"),
    "warning": _l("预警"),
    "overdue": _l("超期"),
    "reminder": _l("催办"),
    "step_up": _l("升级督办"),
}
LIGHTS = {"normal": "green", "warning": "yellow", "overdue": "red"}

# The engine names roles, urgencies and channels in Chinese (engine/vocabulary.py)
# and knows nothing of languages: its words are marked here, and the pages show them through
# translated(). tests/test_english_pages.py checks that each of them has an English translation.
ENGINE_WORDS = (
    N_("信息采集员"), N_("监督中心受理员"), N_("指挥中心派遣员"), N_("处置部门"), N_("分管领导"),
    N_("考核员（文明办）"), N_("系统管理员"), N_("文书（办公室：公文登记、归档）"), N_("市民（外部系统）"),
    N_("一般"), N_("紧急"),
    N_("采集员上报"), N_("热线（12319 / 12345）"), N_("网站"), N_("微信"), N_("媒体曝光"), N_("领导交办"),
)


def translated(names: dict[str, str]) -> dict[str, Any]:
    """The engine's {code: Chinese name} with each name in the page's language."""
    return {code: _l(name) for code, name in names.items()}


ROLE_NAMES = translated(ROLES)
URGENCY_NAMES = translated(URGENCIES)
CHANNEL_NAMES = translated(CHANNELS)


# What a page says for an HTTP error: (anchor, heading, explanation). A stale form (its CSRF
# token no longer matches the session) tells how to get the typed values back: the browser's
# back button keeps them.
ERROR_PAGES = {
    400: ("bad-request", _l("请求有误"), _l("页面提交的内容不完整或格式不对。请返回上一页检查后重新提交。")),
    403: ("forbidden", _l("无权访问"), _l("您的角色无权查看或办理此页面、任务或案件。")),
    404: ("not-found", _l("页面或记录不存在"), _l("您要找的页面、案件、任务或照片不存在，可能链接有误或已被删除。")),
    405: ("bad-request", _l("请求有误"), _l("此页面不接受这种提交方式。")),
    413: ("too-large", _l("上传内容过大"), _l("每张照片不超过 5 MB，一次提交合计不超过 40 MB。")),
}
STALE_FORM = (
    "stale-form",
    _l("页面已过期，未提交"),
    _l("页面打开已超过 12 小时，或其间重新登录过，此次提交未保存。请返回上一页（已填内容仍在），刷新页面后重新提交。"),
)


def error_page(error: HTTPException, refused: InvalidField | None = None) -> tuple[str, int, list[tuple[str, str]]]:
    """The page in the site's language; a refused field (a hand-made request the page's own
    form never sends) is named below it, as text: the template escapes what the request said."""
    code = error.code or 500
    anchor, heading, explanation = STALE_FORM if isinstance(error, CSRFError) else ERROR_PAGES.get(
        code, ("error", _l("出错了"), _l("请求未能完成，请稍后重试。"))
    )
    page = render_template(
        "errors/page.html", code=code, anchor=anchor, heading=heading, explanation=explanation, refused=refused,
        back=back_to_referrer(),
    )
    # The error's own headers (a 405's Allow) stay; the page brings its own content type.
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    return page, code, headers


def send_photo(path: Path, content_type: str) -> Response:
    """A stored photo (case or inspection), cached a day: its name is its hash, so it never
    changes; served as the image it is, never sniffed."""
    answer = send_file(path, mimetype=content_type, max_age=86400)
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


# A diagram file is uploaded by a person and may carry XHTML with a script in its extension
# elements: shown as a document of this site, it would run as this site.
DIAGRAM_POLICY = "default-src 'none'; sandbox"


def send_diagram(xml: str, download_name: str | None = None) -> Response:
    """A BPMN or DMN file as plain text, never sniffed into markup, sandboxed without scripts
    should a browser render it anyway; a download when named. bpmn-js and dmn-js fetch it."""
    answer = Response(xml, mimetype="text/plain")
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Content-Security-Policy"] = DIAGRAM_POLICY
    if download_name is not None:
        # Werkzeug writes the name RFC 6266 style, so a Chinese file name or a quote in it is safe.
        answer.headers.set("Content-Disposition", "attachment", filename=download_name)
    return answer


def back_to_referrer() -> str:
    """Where a button press returns to: the page it came from on this site, else the inbox."""
    return local_path(request.referrer or "") or url_for("inbox.index")


# What a browser ignores in a URL (the WHATWG URL standard): C0 controls and spaces at either
# end, and a tab, CR or LF anywhere. "/\t/evil.example" is "//evil.example" to a browser.
_URL_ENDS = "".join(chr(code) for code in range(0x21))
_URL_IGNORED = re.compile(r"[\t\r\n]")


def local_path(target: str) -> str | None:
    """The path (with its query) of a page of this site that target names, read as a browser
    would read it, or None for anything a browser would take elsewhere: "//host", "/\\host",
    "https://host", "javascript:", a path relative to nothing. A full URL of this very host
    (a Referer) gives its path."""
    cleaned = _URL_IGNORED.sub("", target.strip(_URL_ENDS)).replace("\\", "/")  # "\\" is "/" to a browser
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
            return None
    elif not cleaned.startswith("/"):
        return None
    path = parts.path or "/"
    if path.startswith("//"):  # "http://this.host//evil.example" would leave as "//evil.example"
        return None
    return iri_to_uri(urlunsplit(("", "", path, parts.query, parts.fragment)))


def duration_words(seconds: int) -> str:
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 60 * 24)
    hours, minutes = divmod(rest, 60)
    parts = [gettext("%(days)d天", days=days) if days else "", gettext("%(hours)d小时", hours=hours) if hours else ""]
    if minutes or not (days or hours):
        parts.append(gettext("%(minutes)d分钟", minutes=minutes))
    return "".join(parts)


def time_left(gridflow: Any, due_at: str | None, now: datetime) -> dict[str, Any] | None:
    """Working time left before a deadline, or overdue since it (as the office counts time)."""
    if due_at is None:
        return None
    seconds = gridflow.calendar.working_seconds_between(now, datetime.fromisoformat(due_at))
    return {"overdue": seconds < 0, "words": duration_words(seconds), "seconds": seconds}


# Text the database cannot store: PostgreSQL text holds no U+0000, and neither database takes a
# lone surrogate (U+D800 to U+DFFF, half of a pair; a JSON escape like "\ud800" makes one).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# How deep a JSON body may nest: the deepest form field is a list of objects, a few levels down.
JSON_DEPTH_LIMIT = 32


class UnreadableBody(InvalidField):
    """A request body that cannot be read at all: 400, where a readable body's bad field is 422."""


def refuse_unstorable_text() -> None:
    """Every request, page or API, is checked at the door: a field holding text that cannot be
    stored, or a JSON body nested past any form, is refused naming the field, instead of
    failing in the database or in a recursive walk with a 500."""
    fields = [
        *request.args.items(multi=True),
        *(request.view_args or {}).items(),
        *request.form.items(multi=True),
        *((name, upload.filename or "") for name, upload in request.files.items(multi=True)),
    ]
    body = _json_body()
    if isinstance(body, dict):
        fields.extend(body.items())
    elif body is not None:
        fields.append(("body", body))
    for name, value in fields:
        if isinstance(name, str) and UNSTORABLE.search(name):
            raise InvalidField(printable(name), _refusal(name))
        problem = _unstorable(value)
        if problem:
            raise InvalidField(printable(name), problem)


def printable(text: str) -> str:
    """Text with its unstorable characters written as escapes, fit to echo in an answer: a
    lone surrogate cannot even be encoded as UTF-8."""
    return UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _json_body() -> Any:
    """The request's JSON body, or None without one. A body that says it is JSON and cannot be
    read (bad syntax, bad UTF-8, nested past the parser's recursion) is refused as the field
    `body` with 400: there is no field in it to be wrong."""
    if not request.is_json or not request.get_data(cache=True):
        return None
    try:
        return request.get_json()
    except RecursionError as exc:
        raise UnreadableBody("body", f"must not nest more than {JSON_DEPTH_LIMIT} levels deep") from exc
    except BadRequest as exc:
        raise UnreadableBody("body", "must be readable JSON (Content-Type: application/json)") from exc


def _unstorable(value: Any) -> str | None:
    """Why a field's value cannot be stored, or None: a walk over nested JSON with a stack of
    its own, so that no depth of nesting reaches Python's recursion limit."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return _refusal(item)
        elif isinstance(item, dict | list):
            if depth > JSON_DEPTH_LIMIT:
                return f"must not nest more than {JSON_DEPTH_LIMIT} levels deep"
            if isinstance(item, dict):
                for key, inner in item.items():
                    if UNSTORABLE.search(key):
                        return _refusal(key)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return None


def _refusal(text: str) -> str:
    found = UNSTORABLE.search(text)
    assert found is not None
    return f"must not contain the character U+{ord(found.group()):04X}"
