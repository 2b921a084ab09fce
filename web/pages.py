"""Words and numbers the pages share: status names, time left in working time."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from engine.errors import InvalidField
from engine.roles import ROLES
from engine.runtime import CHANNELS, URGENCIES


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
    "start": _l("发起"),
    "migrate": _l("迁移到新版本"),
    "claim": _l("签收"),
    "release": _l("退回任务池"),
    "timer_failed": _l("计时失败"),
    "warning": _l("预警"),
    "overdue": _l("超期"),
    "reminder": _l("催办"),
    "step_up": _l("升级督办"),
}
LIGHTS = {"normal": "green", "warning": "yellow", "overdue": "red"}

# The engine names roles, urgencies and channels in Chinese (engine/roles.py, engine/runtime.py)
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


def back_to_referrer() -> str:
    """Where a button press returns to: the page it came from on this site, else the inbox."""
    referrer = request.referrer or ""
    return referrer if referrer.startswith(request.host_url) else url_for("inbox.index")


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


def refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold the character U+0000 (SQLite can): every request, page or
    API, is refused at the door naming the field, instead of failing in the database with a 500."""
    body = request.get_json(silent=True)
    fields = [
        *request.args.items(multi=True),
        *(request.view_args or {}).items(),
        *request.form.items(multi=True),
        *((name, upload.filename or "") for name, upload in request.files.items(multi=True)),
        *(body.items() if isinstance(body, dict) else []),
    ]
    for name, value in fields:
        if _holds_nul(value):
            raise InvalidField(name, "must not contain the character U+0000")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
