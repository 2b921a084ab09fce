"""Demo data: the reference county of DOMAIN.md - 11 zones x 3 grids, the departments, a
classification in the national style, a small component census (66 covers, lamps, hydrants),
and one account per role. Every password is `demo`."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from ..deadlines import Clock
from ..geo import OUTLINES
from ..storage import Category, Component, Department, Grid, ReferenceVersion, User, UserRole, Zone, record
from ..vocabulary import SYSTEM_ACTOR
from .demo_map import census_rows, outline_columns

DEMO_PASSWORD = "demo"

FUNCTIONAL_DEPARTMENTS = {
    "CGJ": "城管局",
    "ZJJ": "住建局",
    "HBJ": "环保局",
    "GAJ": "公安局",
    "GSJ": "工商局",
    "FGJ": "房管局",
    "SYJ": "食药监局",
    "GS": "国税局",
    "DS": "地税局",
}
STREET_OFFICES = {
    "01": ("JD01", "城关街道办事处"),
    "02": ("JD02", "东城街道办事处"),
    "03": ("JD03", "西城街道办事处"),
    "04": ("JD04", "南关街道办事处"),
    "05": ("JD05", "北关街道办事处"),
    "06": ("JD06", "新华街道办事处"),
    "07": ("JD07", "解放街道办事处"),
    "08": ("JD08", "城南镇人民政府"),
    "09": ("JD09", "城北镇人民政府"),
    "10": ("JD10", "河西镇人民政府"),
    "11": ("KFQ", "经济开发区管委会"),
}
GRIDS_PER_ZONE = 3

COMPONENT_CLASSES = {"01": "公用设施", "02": "道路交通", "03": "市容环境", "04": "园林绿化", "05": "房屋土地"}
EVENT_CLASSES = {
    "01": "市容环境",
    "02": "宣传广告",
    "03": "施工管理",
    "04": "突发事件",
    "05": "街面秩序",
    "06": "扩展事件",
}
# code: (name, owner department or None for the territory, limit class)
COMPONENTS = {
    "BJ0101": ("上水井盖", "ZJJ", "normal"),
    "BJ0102": ("污水井盖", "ZJJ", "normal"),
    "BJ0103": ("雨水井盖", "ZJJ", "normal"),
    "BJ0104": ("电力井盖", None, "normal"),
    "BJ0105": ("消防栓", "GAJ", "normal"),
    "BJ0106": ("路灯", "CGJ", "normal"),
    "BJ0201": ("交通信号灯", "GAJ", "normal"),
    "BJ0202": ("交通护栏", "GAJ", "normal"),
    "BJ0203": ("路名牌", "CGJ", "normal"),
    "BJ0204": ("道路破损", "ZJJ", "complex"),
    "BJ0301": ("公共厕所", "CGJ", "normal"),
    "BJ0302": ("垃圾箱", "CGJ", "normal"),
    "BJ0303": ("果皮箱", "CGJ", "normal"),
    "BJ0304": ("广告牌匾", "CGJ", "complex"),
    "BJ0401": ("行道树", "CGJ", "normal"),
    "BJ0402": ("绿地", "CGJ", "normal"),
    "BJ0403": ("护树设施", "CGJ", "normal"),
    "BJ0501": ("危险房屋", "FGJ", "hard"),
    "BJ0502": ("违章建筑", "CGJ", "hard"),
    "BJ0503": ("空置房屋", "FGJ", "complex"),
}
EVENTS = {
    "SJ0101": ("暴露垃圾", None, "normal"),
    "SJ0102": ("积存垃圾渣土", None, "normal"),
    "SJ0103": ("道路不洁", None, "normal"),
    "SJ0104": ("焚烧垃圾树叶", "HBJ", "normal"),
    "SJ0201": ("非法小广告", None, "normal"),
    "SJ0202": ("违章张贴悬挂广告", "CGJ", "normal"),
    "SJ0203": ("占道广告牌", "CGJ", "complex"),
    "SJ0301": ("施工扰民", "HBJ", "normal"),
    "SJ0302": ("工地扬尘", "HBJ", "normal"),
    "SJ0303": ("渣土车辆遗撒", "CGJ", "normal"),
    "SJ0304": ("无证掘路", "ZJJ", "complex"),
    "SJ0401": ("路面塌陷", "ZJJ", "normal"),
    "SJ0402": ("自来水管爆裂", "ZJJ", "normal"),
    "SJ0403": ("燃气管道破裂", "ZJJ", "normal"),
    "SJ0404": ("道路积水", "CGJ", "normal"),
    "SJ0501": ("无照经营游商", "GSJ", "normal"),
    "SJ0502": ("店外经营", None, "normal"),
    "SJ0503": ("占道经营", "CGJ", "normal"),
    "SJ0504": ("机动车乱停放", "GAJ", "normal"),
    "SJ0505": ("露天烧烤", "CGJ", "normal"),
    "SJ0601": ("餐饮油烟", "HBJ", "normal"),
    "SJ0602": ("无证食品摊贩", "SYJ", "normal"),
    "SJ0603": ("门前三包不落实", None, "normal"),
}
EMERGENCY_CLASS = ("event", "04")

STAFF = {
    "operator": ("受理员（监督中心）", "operator"),
    "dispatcher": ("派遣员（指挥中心）", "dispatcher"),
    "leader": ("分管领导", "leader"),
    "assessor": ("考核员（文明办）", "assessor"),
    "clerk": ("文书（办公室）", "clerk"),
    "admin": ("系统管理员", "admin"),
    "open311": ("市民诉求平台（Open311）", "citizen"),  # reports from outside clients; reads only its own cases
}


def load_demo_data(sessions: sessionmaker[Session], clock: Clock) -> None:
    """Load the demo organisation once; a database that already has it is left alone."""
    with sessions.begin() as session:
        if session.scalar(select(User).limit(1)) is not None:
            return
        password_hash = generate_password_hash(DEMO_PASSWORD)
        for code, name in FUNCTIONAL_DEPARTMENTS.items():
            session.add(Department(code=code, name=name, kind="functional"))
        for code, name in STREET_OFFICES.values():
            session.add(Department(code=code, name=name, kind="street"))
        session.flush()
        for zone, (_, street_name) in STREET_OFFICES.items():
            session.add(Zone(code=zone, name=f"第{zone}网区（{street_name}）"))
        session.flush()
        for zone, (street_code, _) in STREET_OFFICES.items():
            for number in range(1, GRIDS_PER_ZONE + 1):
                session.add(
                    Grid(
                        code=f"{zone}-{number:02d}",
                        name=f"{zone}网区{number}号网格",
                        zone_code=zone,
                        territory_department_code=street_code,
                        **outline_columns(int(zone), number),
                    )
                )
        session.add(ReferenceVersion(kind=OUTLINES, version=1))  # every process reads the outlines
        session.flush()
        for family, classes, subtypes in (
            ("component", COMPONENT_CLASSES, COMPONENTS),
            ("event", EVENT_CLASSES, EVENTS),
        ):
            for code, (name, owner, limit_class) in subtypes.items():
                class_code = code[2:4]
                session.add(
                    Category(
                        code=code,
                        family=family,
                        class_code=class_code,
                        class_name=classes[class_code],
                        name=name,
                        owner_department_code=owner,
                        limit_class=limit_class,
                        emergency=(family, class_code) == EMERGENCY_CLASS,
                    )
                )
        session.flush()
        grids = [(int(zone), number) for zone in STREET_OFFICES for number in range(1, GRIDS_PER_ZONE + 1)]
        session.execute(insert(Component), census_rows(grids, {code: row[1] for code, row in COMPONENTS.items()}))
        for zone in STREET_OFFICES:
            name = f"采集员{zone}（第{zone}网区）"
            _add_user(session, f"collector{zone}", name, password_hash, "collector", zone=zone)
        for username, (display_name, role) in STAFF.items():
            _add_user(session, username, display_name, password_hash, role)
        departments = {**FUNCTIONAL_DEPARTMENTS, **dict(STREET_OFFICES.values())}
        for code, name in departments.items():
            _add_user(session, code.lower(), f"{name}处置员", password_hash, "department", department=code)
        record(session, at=clock.now(), actor=SYSTEM_ACTOR, action="load_demo_data", detail={"password": "demo"})


def _add_user(
    session: Session,
    username: str,
    display_name: str,
    password_hash: str,
    role: str,
    zone: str | None = None,
    department: str | None = None,
) -> None:
    user = User(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        zone_code=zone,
        department_code=department,
        active=True,
    )
    user.roles.append(UserRole(role=role))
    session.add(user)
