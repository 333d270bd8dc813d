"""Build the demo county: regions and grids, departments, a responsibility list, users for every
role and a year of cases in every state, all through the same services the API uses."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from collections.abc import Callable
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fengqiao.auth.models import Role, User
from fengqiao.auth.service import Principal, hash_password, principal_for
from fengqiao.cases.domain import Action
from fengqiao.cases.models import Case
from fengqiao.cases.schemas import CaseCreate, CaseKind, Channel, PartyIn, TransitionIn, VisitIn
from fengqiao.cases.service import apply, record_visit, register
from fengqiao.cases.validation import make_id_number
from fengqiao.catalog.models import CatalogItem
from fengqiao.catalog.service import import_catalog
from fengqiao.db import Database, utcnow
from fengqiao.deadlines.domain import Stage
from fengqiao.deadlines.service import running_stage
from fengqiao.demo.geography import build_geojson, dumps
from fengqiao.org.models import Department, Region, RegionLevel
from fengqiao.org.service import import_departments_csv, import_regions_geojson

DEMO_PASSWORD = "fengqiao-demo"
CONTENT = resources.files("fengqiao.demo") / "content"
CATEGORY_KIND = {"矛盾纠纷": CaseKind.DISPUTE, "风险隐患": CaseKind.HAZARD, "部件问题": CaseKind.FACILITY,
                 "群众诉求": CaseKind.REQUEST, "信访事项": CaseKind.PETITION, "警情纠纷": CaseKind.POLICE}
KIND_CHANNELS = {
    CaseKind.DISPUTE: [Channel.WINDOW, Channel.GRID, Channel.HOTLINE, Channel.WECHAT],
    CaseKind.HAZARD: [Channel.GRID, Channel.DEVICE, Channel.HOTLINE],
    CaseKind.FACILITY: [Channel.GRID, Channel.HOTLINE, Channel.WECHAT],
    CaseKind.REQUEST: [Channel.HOTLINE, Channel.WECHAT, Channel.WINDOW, Channel.EMAIL],
    CaseKind.PETITION: [Channel.PETITION, Channel.WINDOW],
    CaseKind.POLICE: [Channel.POLICE],
}
# Accounts printed by `fengqiao demo`: (username, what they are).
SHOWN_USERS = [
    ("admin", "管理员（县）"), ("operator", "受理员/座席员（县综治中心）"),
    ("operator_cg", "受理员（城关镇综治中心）"), ("supervisor", "督查专员（县）"), ("leader", "领导（县）"),
    ("mediator", "调解员（县）"), ("h_rsj", "部门办理人：县人力资源和社会保障局"),
    ("h_zjj", "部门办理人：县住房和城乡建设局"), ("h_cw", "部门办理人：村（社区）委员会"),
    ("h_xz", "部门办理人：乡镇人民政府"), ("grid_worker", "网格员（东关社区第1网格）"),
]


def demo_users() -> list[tuple[str, str]]:
    return SHOWN_USERS + [("h_<部门代码小写>", "其余各部门办理人，如 h_gaj、h_sfj")]


def _text(name: str) -> str:
    return (CONTENT / name).read_text(encoding="utf-8")


def build_demo(db: Database, cases: int = 4000, seed: int = 20261124, now: datetime | None = None,
               progress: Callable[[int, int], None] | None = None) -> bool:
    """Create the demo county unless the database already has one; True when created."""
    with db.read() as session:
        if session.scalar(select(func.count()).select_from(Region)):
            return False
    with db.unit_of_work() as session:
        import_regions_geojson(session, dumps(build_geojson(json.loads(_text("regions.json")))))
        import_departments_csv(session, _text("departments.csv"))
        import_catalog(session, _text("catalog.csv").encode(), "扶沟县确权清单（演示）.csv")
        _create_users(session)
    generate_cases(db, cases, seed, now or utcnow(), progress=progress)
    return True


def _create_users(session: Session) -> None:
    pw = hash_password(DEMO_PASSWORD)  # one hash for all demo accounts: Argon2 is slow by design
    regions = {r.code: r for r in session.scalars(select(Region))}
    county = next(r for r in regions.values() if r.level == RegionLevel.COUNTY.value)
    town = next(r for r in regions.values() if r.name == "城关镇")
    grid = min((r for r in regions.values() if r.level == RegionLevel.GRID.value and r.name.startswith("东关社区")),
               key=lambda r: r.code)
    rows = [("admin", "赵管理", Role.ADMIN, county, None), ("operator", "钱受理", Role.OPERATOR, county, None),
            ("operator_cg", "孙窗口", Role.OPERATOR, town, None), ("supervisor", "李督查", Role.SUPERVISOR, county, None),
            ("leader", "周县长", Role.LEADER, county, None), ("mediator", "吴调解", Role.MEDIATOR, county, None),
            ("grid_worker", "郑网格", Role.GRID_WORKER, grid, None)]
    for dept in session.scalars(select(Department)):
        rows.append((f"h_{dept.code.lower()}", f"{dept.name}办理人", Role.HANDLER, county, dept.id))
    for username, name, role, region, dept_id in rows:
        session.add(User(username=username, display_name=name, password_hash=pw, role=role.value,
                         region_id=region.id, department_id=dept_id))
    session.flush()


@dataclass
class _World:
    items: list[CatalogItem]
    templates: dict[str, list[str]]
    grids: list[tuple[Region, Any]]
    names: dict[str, list[str]]
    operator: Principal
    centre: Principal
    leader: Principal
    handlers: dict[int, Principal]
    regions_by_id: dict[int, Region]


def _principal(session: Session, username: str) -> Principal:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return principal_for(session, user)


def _world(session: Session) -> _World:
    items = list(session.scalars(select(CatalogItem).order_by(CatalogItem.code)))
    grids = [(g, shape(g.geometry)) for g in session.scalars(select(Region).where(Region.level == "grid"))]
    handlers = {}
    for user in session.scalars(select(User).where(User.role == Role.HANDLER.value)):
        assert user.department_id is not None
        handlers[user.department_id] = _principal(session, user.username)
    return _World(items, json.loads(_text("case_templates.json")), grids, json.loads(_text("names.json")),
                  _principal(session, "operator"), _principal(session, "supervisor"), _principal(session, "leader"),
                  handlers, {r.id: r for r in session.scalars(select(Region))})


def _point_in(rng: random.Random, geom: Any) -> tuple[float, float]:
    minx, miny, maxx, maxy = geom.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if geom.contains(Point(x, y)):
            return round(y, 6), round(x, 6)


def _person(rng: random.Random, names: dict[str, list[str]]) -> str:
    return rng.choice(names["surnames"]) + rng.choice(names["given"])


def _fill(rng: random.Random, template: str, world: _World, place: str) -> str:
    return template.format(place=place, person=_person(rng, world.names), n=rng.randint(3, 40),
                           amount=rng.choice([3000, 8600, 12000, 25000, 46000, 130000]))


def generate_cases(db: Database, count: int, seed: int, now: datetime, batch: int = 250,
                   progress: Callable[[int, int], None] | None = None) -> None:
    rng = random.Random(seed)
    with db.read() as session:
        world = _world(session)
    starts = sorted(now - timedelta(days=365 * rng.random() ** 1.3) for _ in range(count))
    for offset in range(0, count, batch):
        with db.unit_of_work() as session:
            for t0 in starts[offset:offset + batch]:
                _one_case(session, rng, world, t0, now)
        if progress:
            progress(min(offset + batch, count), count)


def _one_case(session: Session, rng: random.Random, w: _World, t0: datetime, now: datetime) -> None:
    item = rng.choice(w.items)
    grid, geom = rng.choice(w.grids)
    village = w.regions_by_id[grid.parent_id] if grid.parent_id else grid
    lat, lon = _point_in(rng, geom)
    place = f"{village.name}{rng.choice(['', '东头', '西头', '南街', '北街', '菜市场旁', '小学门口'])}{rng.randint(1, 30)}号"
    text = _fill(rng, rng.choice(w.templates.get(item.code) or [item.description]), w, place)
    kind = CATEGORY_KIND.get(item.category, CaseKind.REQUEST)
    channel = rng.choice(KIND_CHANNELS[kind])
    name = _person(rng, w.names)
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
    birth = datetime(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    idn = make_id_number(f"411621{birth:%Y%m%d}{rng.randint(100, 999)}")
    risky = any(cue in text for cue in ("扬言", "横幅", "堵路", "煤气", "跳楼", "聚集", "持刀", "坍塌", "起火"))
    risk = "高" if risky else rng.choices(["中", "低"], [0.2, 0.8])[0]
    discovered = t0 - timedelta(minutes=rng.randint(0, 50) if channel is Channel.GRID else 0)
    if rng.random() < 0.05:
        discovered = t0 - timedelta(hours=rng.randint(2, 30))  # some reports come in late
    case = register(session, w.operator, CaseCreate(
        kind=kind, channel=channel, description=text, discovered_at=discovered, lat=lat, lon=lon, address=place,
        risk=risk, parties=[PartyIn(role="reporter", name=name, phone=phone, id_number=idn)]), now=t0)
    # A backlog: some cases stop at a stage (they become overdue and supervised). Before dispatch only recent ones
    # do: a centre's routing desk is worked every day, while departments sit on cases for months.
    stop_at = None
    if rng.random() < 0.05:
        recent = now - t0 < timedelta(days=RECENT_DESK_DAYS)
        stop_at = rng.choice(STUCK_STATES if recent else STUCK_STATES[STUCK_STATES.index("dispatched"):])
    try:
        _advance(session, rng, w, case, item, t0, now, stop_at)
    except _Stop:
        pass


STUCK_STATES = ["registered", "triaged", "joint_review", "returned", "arbitration", "dispatched", "accepted", "in_progress",
                "handled"]
RECENT_DESK_DAYS = 10     # cases older than this are never left waiting at the routing desk


class _Stop(Exception):
    """The simulated case stays where it is."""


def _advance(session: Session, rng: random.Random, w: _World, case: Case, item: CatalogItem, t0: datetime,
             now: datetime, stop_at: str | None) -> None:
    """Walk the case through the loop with realistic delays, stopping where 'now' is reached."""
    t = t0
    if stop_at in ("joint_review", "returned", "arbitration"):
        stop_at_path = stop_at
    else:
        stop_at_path = None

    def step(minutes_lo: float, minutes_hi: float) -> bool:
        nonlocal t
        t = t + timedelta(minutes=rng.uniform(minutes_lo, minutes_hi))
        return t < now

    def act(who: Principal, action: Action, **kw: Any) -> None:
        apply(session, who, case.id, TransitionIn(action=action, **kw), now=t)
        if case.state == stop_at:
            raise _Stop

    if rng.random() < 0.01:
        if step(5, 60):
            act(w.operator, Action.VOID, note="重复登记，作废")
        return
    if stop_at == "registered" or not step(3, 40):
        return
    act(w.operator, Action.CLASSIFY, catalog_item_id=item.id)
    if rng.random() < 0.04 or stop_at_path == "joint_review":
        if not step(30, 300):
            return
        act(w.operator, Action.JOINT_REVIEW, note="涉及多个部门，权属不清，提交联合研判")
        if not step(600, 2880):
            return
        act(w.centre, Action.DECIDE, note="联合研判：由清单责任部门牵头办理")
    else:
        if not step(10, 300 if rng.random() < 0.93 else 600):
            return
        act(w.operator, Action.DISPATCH)
    handler = w.handlers[case.department_id]  # type: ignore[index]
    for _ in range(2):
        if case.state != "dispatched" or (rng.random() > 0.06 and stop_at_path not in ("returned", "arbitration")):
            break
        if not step(30, 600):
            return
        act(handler, Action.RETURN, note="经核实不属于本部门职责，请重新分流")
        if case.state == "arbitration":
            if not step(120, 1440):
                return
            act(w.centre, Action.DECIDE, note="中心审定：按确权清单由原部门办理，不得再退回")
        else:
            if not step(20, 240):
                return
            act(w.operator, Action.DISPATCH)
        handler = w.handlers[case.department_id]  # type: ignore[index]
    if not step(20, 480):
        return
    act(handler, Action.ACCEPT)
    if case.risk == "高" and rng.random() < 0.5:
        act(w.leader, Action.TAKE_CHARGE, note="县领导包案，一案一策一专班")
    if not step(10, 240):
        return
    act(handler, Action.START)
    slow = rng.random() < 0.12
    if slow and rng.random() < 0.5:
        if not step(600, 2000):
            return
        act(handler, Action.REQUEST_EXTENSION, note="需等待鉴定结论", extend_by="3工作日")
        if not step(60, 600):
            return
        act(w.centre, Action.APPROVE_EXTENSION, note="同意延期")
    if not step(240, 9000 if slow else 3600):
        return
    def feedback(note: str) -> None:
        stage = running_stage(session, case.id, Stage.RESOLVE)
        late = stage is not None and t > stage.due_at
        act(handler, Action.FEEDBACK, note=note, overdue_reason="涉及多方协调，处置时间较长" if late else None)

    feedback("已现场核实并处置完毕，当事人认可处理结果。")
    for attempt in range(3):
        if not step(60, 1200):
            return
        roll = rng.random()
        if roll < 0.08 and attempt < 2:
            record_visit(session, w.operator, case.id, VisitIn(reached=False, note="电话无人接听"), now=t)
            continue
        if roll < 0.12:
            record_visit(session, w.operator, case.id, VisitIn(reached=True, solved=False, satisfaction="不满意",
                                                               note="群众反映问题仍未解决"), now=t)
            if not step(600, 2880):
                return
            feedback("再次上门处理，问题已解决。")
            continue
        record_visit(session, w.operator, case.id, VisitIn(
            reached=True, solved=True, satisfaction=rng.choices(["满意", "基本满意"], [0.9, 0.1])[0]), now=t)
        return
    if case.state == "handled" and step(60, 600):
        record_visit(session, w.operator, case.id, VisitIn(reached=False, note="第三次仍未接通"), now=t)
