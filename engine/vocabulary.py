"""The engine's words that callers show and send: roles, urgencies, channels, calendar day
kinds. Codes are what the API and the diagrams use; the Chinese names are what pages show
(web/ translates them)."""
from __future__ import annotations

# A diagram's lane names the role that works on its tasks (the lane is projected onto each task
# row and matched against the user's roles), so a lane naming anything else would make tasks
# nobody can see: the deploy checks refuse it.
ROLES: dict[str, str] = {
    "collector": "信息采集员",
    "operator": "监督中心受理员",
    "dispatcher": "指挥中心派遣员",
    "department": "处置部门",
    "leader": "分管领导",
    "assessor": "考核员（文明办）",
    "admin": "系统管理员",
    "clerk": "文书（办公室：公文登记、归档）",
    "citizen": "市民（外部系统）",  # outside clients such as the Open311 portal: report and read their own
}
ADMINISTRATOR = "admin"
URGENCIES = {"normal": "一般", "urgent": "紧急"}
CHANNELS = {
    "collector": "采集员上报",
    "hotline": "热线（12319 / 12345）",
    "web": "网站",
    "wechat": "微信",
    "media": "媒体曝光",
    "leader": "领导交办",
}
STARTED_BY_FORM = "internal"  # the channel of a case started from a process's own start form
SYSTEM_ACTOR = "system"  # who the audit trail names for what the engine did by itself (timers)
CALENDAR_DAY_KINDS = {"holiday": "节假日（休息）", "working": "调休上班"}  # the administrator's extra days
