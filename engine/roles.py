"""The roles the engine knows, in one place. A diagram's lane names the role that works on its
tasks (the lane is projected onto each task row and matched against the user's roles), so a
lane naming anything else would make tasks nobody can see: the deploy checks refuse it."""
from __future__ import annotations

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
