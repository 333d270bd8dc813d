"""Dispute ledgers (矛盾纠纷台账) in Excel: import a county's ledger, export any case list.

Import is all or nothing with a validation report naming every bad row. Rows the ledger shows
as still open become cases (they need handling); concluded rows are kept as history, so a
person who comes back is recognised and the statistics include them.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from fengqiao.auth.models import User
from fengqiao.auth.service import Principal, mask_phone
from fengqiao.cases.domain import CaseState
from fengqiao.cases.models import Case, CaseEvent, Party
from fengqiao.cases.queries import CaseFilter, list_cases
from fengqiao.cases.schemas import KIND_LABELS, CaseKind
from fengqiao.cases.validation import check_id_number, check_phone
from fengqiao.catalog.models import CatalogItem
from fengqiao.tabular import read_table
from fengqiao.db import utcnow
from fengqiao.deadlines.domain import LOCAL_TZ
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.errors import Conflict, InvalidInput
from fengqiao.intake.models import LedgerEntry, LedgerImport, LedgerParty
from fengqiao.intake.service import Incoming, Person, accept, region_from_address
from fengqiao.org.models import Department, Region

# (our field, standard column, other names counties use, required)
FIELDS: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("ledger_no", "台账编号", ("编号", "纠纷编号", "案件编号", "登记编号"), False),
    ("name", "纠纷名称", ("事件名称", "名称", "矛盾纠纷名称", "案件名称"), True),
    ("occurred_on", "发生日期", ("日期", "登记日期", "受理日期", "排查日期", "发生时间"), True),
    ("place", "发生地点", ("地点", "事发地点", "发生地址", "地址"), False),
    ("scale", "纠纷规模", ("规模", "事件规模"), False),
    ("dispute_type", "纠纷类型", ("类型", "纠纷类别", "事件类别"), False),
    ("people_count", "涉及人数", ("人数", "涉及人员数"), False),
    ("summary", "纠纷简要情况", ("简要情况", "事件简述", "主要内容", "基本情况", "纠纷简况", "简要案情"), True),
    ("parties", "当事人", ("主要当事人", "当事人及联系方式", "当事人信息"), False),
    ("time_limit", "化解时限", ("时限", "办理时限", "调解期限"), False),
    ("method", "化解方式", ("调解方式", "处置方式", "化解措施"), False),
    ("organisation", "化解组织", ("调解组织", "责任单位", "承办单位"), False),
    ("person_in_charge", "化解责任人", ("责任人", "调解员", "包案领导", "承办人"), False),
    ("success", "化解是否成功", ("是否成功", "是否化解", "化解结果", "调解结果"), False),
    ("result", "化解情况", ("调处结果", "结果", "处理结果", "处理情况", "化解情况说明"), False),
    ("assessment", "考评意见", ("考评", "回访情况", "评估", "群众评价"), False),
    ("grid_code", "网格编码", ("网格代码", "所属网格", "网格编号"), False),
]
LABELS = {key: label for key, label, _, _ in FIELDS}
REQUIRED = [key for key, _, _, req in FIELDS if req]
MAX_ROWS = 50_000
MAX_EXPORT = 50_000
_YES = {"是", "成功", "已化解", "化解成功", "调解成功", "已调解", "true", "1", "y", "yes"}
_NO = {"否", "失败", "不成功", "未成功", "调解不成功", "调解失败", "化解失败", "false", "0", "n", "no"}
_OPEN = {"", "未化解", "化解中", "调解中", "在办", "正在化解", "办理中", "未办结"}
_PHONE = re.compile(r"(?<!\d)(1\d{10}|0\d{2,3}-?\d{7,8})(?!\d)")
_ID = re.compile(r"(?<![\dXx])(\d{17}[\dXx])(?![\dXx])")
_SPLIT = re.compile(r"[、,，;；/\n]+")


def fields() -> list[dict[str, Any]]:
    return [{"field": key, "label": label, "aliases": list(aliases), "required": req}
            for key, label, aliases, req in FIELDS]


def detect_mapping(header: list[str]) -> dict[str, str]:
    """Our field → their column, by the standard name or a common alias."""
    out: dict[str, str] = {}
    for key, label, aliases, _ in FIELDS:
        for name in (label, *aliases):
            if name.lower() in header and name.lower() not in out.values():
                out[key] = name.lower()
                break
    return out


def fingerprint(row: dict[str, Any]) -> str:
    day = row.get("occurred_on")
    people = ",".join(sorted(f"{p['name']}/{p['phone'] or ''}" for p in row.get("parties") or []))
    text = "|".join([str(row.get("name") or ""), day.isoformat() if isinstance(day, date) else "",
                     re.sub(r"\s+", "", str(row.get("summary") or "")), people])
    return hashlib.sha256(text.encode()).hexdigest()


def _date(text: str) -> date:
    t = text.strip()
    if re.fullmatch(r"\d{5}(\.0)?", t):  # an Excel serial day number
        return date(1899, 12, 30) + timedelta(days=int(float(t)))
    t = re.sub(r"[年月/.]", "-", t).replace("日", "").split(" ")[0].split("T")[0]
    if re.fullmatch(r"\d{8}", t):
        t = f"{t[:4]}-{t[4:6]}-{t[6:]}"
    try:
        y, m, d = (int(x) for x in t.split("-"))
        return date(y, m, d)
    except (ValueError, TypeError):
        raise ValueError(f"日期“{text}”无法识别，应如 2025-03-01") from None


def parse_parties(text: str) -> list[dict[str, str | None]]:
    """'张三（13812345678）、李四 110105…' → names with phone and ID number, each checked."""
    people = []
    for segment in _SPLIT.split(text):
        seg = segment.strip()
        if not seg:
            continue
        id_match = _ID.search(seg)
        id_number = check_id_number(id_match.group(1)) if id_match else None
        rest = seg.replace(id_match.group(1), " ") if id_match else seg
        phone_match = _PHONE.search(rest)
        phone = check_phone(phone_match.group(1)) if phone_match else None
        if phone_match:
            rest = rest.replace(phone_match.group(1), " ")
        name = re.sub(r"[()（）:：\s]|电话|手机|身份证号?|联系方式", "", rest)[:64]
        if re.search(r"\d{3,}", name):
            raise ValueError(f"“{seg}”中的号码既不是手机号也不是身份证号")
        if not name and not phone and not id_number:
            continue
        people.append({"name": name or "未具名", "phone": phone, "id_number": id_number})
    return people


def _convert(key: str, text: str) -> Any:
    if key == "occurred_on":
        day = _date(text)
        if day > utcnow().astimezone(LOCAL_TZ).date():
            raise ValueError(f"发生日期 {day} 晚于今天")
        return day
    if key == "people_count":
        t = text.replace("人", "").strip()
        try:
            n = int(float(t))
        except ValueError:
            raise ValueError(f"涉及人数“{text}”应为整数") from None
        if n < 0 or n > 100_000:
            raise ValueError(f"涉及人数 {n} 不合理")
        return n
    if key == "success":
        t = text.strip().lower()
        if t in _YES:
            return True
        if t in _NO:
            return False
        if t in _OPEN:
            return None
        raise ValueError(f"“{text}”无法判断是否化解成功：应为 是、否 或留空（未化解）")
    if key == "parties":
        return parse_parties(text)
    limits = {"ledger_no": 60, "name": 200, "place": 300, "scale": 20, "dispute_type": 60, "time_limit": 40,
              "method": 40, "organisation": 100, "person_in_charge": 64, "grid_code": 20}
    if key in limits and len(text) > limits[key]:
        raise ValueError(f"超过 {limits[key]} 字")
    if key == "summary" and len(text) < 2:
        raise ValueError("简要情况太短")
    return text


def parse(session: Session, raw: bytes, filename: str, mapping: dict[str, str] | None) -> dict[str, Any]:
    """Read and check every row; the report lists each bad row with its column and reason."""
    header, table = read_table(raw, filename)
    if len(table) > MAX_ROWS:
        raise InvalidInput(f"台账超过 {MAX_ROWS} 行，请分批导入", "file")
    if mapping:
        unknown = [k for k in mapping if k not in LABELS]
        if unknown:
            raise InvalidInput(f"未知字段：{'、'.join(unknown)}", f"mapping.{unknown[0]}")
        used = {k: str(v).strip().lower() for k, v in mapping.items() if v}
    else:
        used = detect_mapping(header)
    missing_cols = [v for v in used.values() if v not in header]
    if missing_cols:
        raise InvalidInput(f"表头中没有映射的列：{'、'.join(missing_cols)}", "mapping")
    missing = [k for k in REQUIRED if k not in used]
    if missing:
        raise InvalidInput("缺少必需的列：" + "、".join(LABELS[k] for k in missing) + "（可在映射中指定对应列）",
                           "mapping", [{"row": 1, "column": LABELS[k], "message": "缺少此列"} for k in missing])
    grids = dict(session.execute(select(Region.code, Region.id)).all())
    known_nos = set()
    index = {col: header.index(col) for col in used.values()}
    rows, errors = [], []
    seen: dict[str, int] = {}
    same: dict[str, int] = {}
    for line, cells in table:
        row: dict[str, Any] = {"row": line}
        for key, col in used.items():
            i = index[col]
            text = cells[i].strip() if i < len(cells) else ""
            if not text:
                if key in REQUIRED:
                    errors.append({"row": line, "column": col, "message": f"{LABELS[key]}不能为空"})
                elif key == "success":
                    row[key] = None
                continue
            try:
                row[key] = _convert(key, text)
            except ValueError as exc:
                errors.append({"row": line, "column": col, "message": f"{LABELS[key]}：{exc}"})
        if row.get("grid_code") and row["grid_code"] not in grids:
            errors.append({"row": line, "column": used["grid_code"], "message": f"网格编码 {row['grid_code']} 不存在"})
        no = row.get("ledger_no")
        if no:
            if no in seen:
                errors.append({"row": line, "column": used["ledger_no"],
                               "message": f"台账编号 {no} 与第 {seen[no]} 行重复"})
            seen.setdefault(no, line)
        row["fingerprint"] = fingerprint(row)
        if row["fingerprint"] in same:
            errors.append({"row": line, "column": used["name"],
                           "message": f"与第 {same[row['fingerprint']]} 行完全相同（名称、日期、简要情况、当事人）"})
        same.setdefault(row["fingerprint"], line)
        rows.append(row)
    nos = [r["ledger_no"] for r in rows if r.get("ledger_no")]
    prints = [r["fingerprint"] for r in rows]
    known_prints: set[str] = set()
    for start in range(0, max(len(nos), len(prints)), 500):
        known_nos.update(session.scalars(select(LedgerEntry.ledger_no).where(
            LedgerEntry.ledger_no.in_(nos[start:start + 500]))))
        known_prints.update(session.scalars(select(LedgerEntry.fingerprint).where(
            LedgerEntry.fingerprint.in_(prints[start:start + 500]))))
    for r in rows:
        r["skip"] = bool(r.get("ledger_no") and r["ledger_no"] in known_nos) or r["fingerprint"] in known_prints
        r["region_id"] = grids.get(r.get("grid_code") or "")
    return {"header": header, "mapping": used, "rows": rows, "errors": errors,
            "unmapped": [h for h in header if h not in used.values()]}


def preview(session: Session, raw: bytes, filename: str, mapping: dict[str, str] | None) -> dict[str, Any]:
    p = parse(session, raw, filename, mapping)
    rows = p["rows"]
    bad = {e["row"] for e in p["errors"]}
    fresh = [r for r in rows if not r["skip"]]
    return {"header": p["header"], "mapping": {k: v for k, v in p["mapping"].items()}, "unmapped": p["unmapped"],
            "rows": len(rows), "valid_rows": len(rows) - len(bad), "errors": p["errors"],
            "to_cases": sum(1 for r in fresh if r.get("success") is None and r["row"] not in bad),
            "history": sum(1 for r in fresh if r.get("success") is not None and r["row"] not in bad),
            "already_imported": [r["ledger_no"] for r in rows if r["skip"]],
            "sample": [_sample(r) for r in rows[:20]]}


def _sample(r: dict[str, Any]) -> dict[str, Any]:
    out = {LABELS[k]: v for k, v in r.items() if k in LABELS}
    if "occurred_on" in r:
        out[LABELS["occurred_on"]] = r["occurred_on"].isoformat()
    if "parties" in r:
        out[LABELS["parties"]] = "、".join(p["name"] or "" for p in r["parties"])
    out["行号"] = r["row"]
    out["导入为"] = "已导入，跳过" if r["skip"] else ("事项（未化解）" if r.get("success") is None else "历史台账")
    return out


def import_ledger(session: Session, principal: Principal, raw: bytes, filename: str,
                  mapping: dict[str, str] | None, now: datetime | None = None) -> dict[str, Any]:
    """All or nothing inside the caller's transaction."""
    now = now or utcnow()
    digest = hashlib.sha256(raw).hexdigest()
    earlier = session.scalar(select(LedgerImport).where(LedgerImport.sha256 == digest).limit(1))
    if earlier is not None:
        raise Conflict(f"该文件已于 {earlier.imported_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} 导入（第 {earlier.id} 批）",
                       "file", code="already_imported")
    p = parse(session, raw, filename, mapping)
    if p["errors"]:
        raise InvalidInput(f"台账有 {len(p['errors'])} 处错误，未导入任何数据", "file", p["errors"])
    batch = LedgerImport(filename=filename[:200], sha256=digest, rows=len(p["rows"]), cases=0, mapping=p["mapping"],
                         imported_by=principal.user_id, imported_at=now)
    session.add(batch)
    session.flush()
    entries, people, open_rows = [], [], []
    for r in p["rows"]:
        if r["skip"]:
            continue
        entry = LedgerEntry(
            import_id=batch.id, row=r["row"], ledger_no=r.get("ledger_no"), fingerprint=r["fingerprint"], name=r["name"],
            occurred_on=r["occurred_on"], place=r.get("place"), scale=r.get("scale"),
            dispute_type=r.get("dispute_type"), people_count=r.get("people_count"), summary=r["summary"],
            parties="、".join(p["name"] or "" for p in r.get("parties", [])) or None, time_limit=r.get("time_limit"),
            method=r.get("method"), organisation=r.get("organisation"), person_in_charge=r.get("person_in_charge"),
            success=r.get("success"), result=r.get("result"), assessment=r.get("assessment"),
            grid_code=r.get("grid_code"), region_id=r["region_id"])
        entries.append(entry)
        people.append(r.get("parties", []))
        if r.get("success") is None:
            open_rows.append((entry, r))
    session.add_all(entries)
    session.flush()
    session.add_all(LedgerParty(entry_id=e.id, name=p["name"] or "未具名", phone=p["phone"], id_number=p["id_number"])
                    for e, ps in zip(entries, people) for p in ps)
    session.flush()
    batch_id, opened = batch.id, [(e.id, e.ledger_no, r) for e, r in open_rows]
    # Everything so far is written; letting the session forget it keeps each registration below
    # cheap (an ORM UPDATE in the deadline code checks every object the session holds).
    session.expunge_all()
    links = []
    for i, (entry_id, ledger_no, r) in enumerate(opened, start=1):
        links.append({"eid": entry_id, "cid": _open_case(session, principal, entry_id, ledger_no, r, filename, now)})
        if i % 100 == 0:
            session.flush()
            session.expunge_all()
    if links:
        entry_table = LedgerEntry.__table__
        session.execute(update(entry_table).where(entry_table.c.id == bindparam("eid"))
                        .values(case_id=bindparam("cid")), links)
    import_table = LedgerImport.__table__
    session.execute(update(import_table).where(import_table.c.id == batch_id).values(cases=len(opened)))
    session.flush()
    return {"import_id": batch_id, "rows": len(p["rows"]), "imported": len(entries), "cases": len(open_rows),
            "history": len(entries) - len(open_rows), "already_imported": len(p["rows"]) - len(entries)}


def _open_case(session: Session, principal: Principal, entry_id: int, ledger_no: str | None, r: dict[str, Any],
               filename: str, now: datetime) -> int:
    scale = r.get("scale") or ""
    risk = "高" if "重大" in scale else "中" if "较大" in scale else "低"
    region_id = r["region_id"] or region_from_address(session, r.get("place"))
    text = r["summary"] + (f"\n（台账：{filename} 第 {r['row']} 行" + (f"，编号 {ledger_no}" if ledger_no else "") + "）")
    inc = Incoming(
        channel="ledger", kind="dispute", description=text[:10_000], principal=principal, title=r["name"][:200],
        discovered_at=min(now, datetime.combine(r["occurred_on"], time(9, 0), LOCAL_TZ)), address=r.get("place") or "台账导入",
        region_id=region_id, risk=risk,
        parties=[Person(p["name"] or "未具名", p["phone"], p["id_number"], "party") for p in r.get("parties", [])],
        source=filename[:60], source_ref=ledger_no, payload={"ledger_entry": entry_id}, auto_link=False,
        count_visits=False)
    return accept(session, inc, now).case_id


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------

EXPORT_COLUMNS = ["事项编号"] + [label for key, label, _, _ in FIELDS if key != "ledger_no"] + ["办理状态"]
_SCALE = {"高": "重大", "中": "较大", "低": "一般"}


def export_xlsx(session: Session, principal: Principal, f: CaseFilter, now: datetime | None = None) -> bytes:
    """The filtered case list (as the list screen filters it) as an .xlsx with the standard columns."""
    from openpyxl import Workbook

    now = now or utcnow()
    ids: list[int] = []
    page = 1
    while len(ids) < MAX_EXPORT:
        chunk = list_cases(session, principal, CaseFilter(f.state, f.kind, f.region_id, f.department_id, f.overdue,
                                                          f.risk, f.q, page, 500), now)
        ids.extend(c.id for c in chunk.items)
        if len(chunk.items) < 500:
            break
        page += 1
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("矛盾纠纷台账")
    ws.append(EXPORT_COLUMNS)
    for start in range(0, len(ids), 500):
        for row in _export_rows(session, principal, ids[start:start + 500]):
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _export_rows(session: Session, principal: Principal, ids: list[int]) -> list[list[Any]]:
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))}
    parties: dict[int, list[Party]] = {}
    for p in session.scalars(select(Party).where(Party.case_id.in_(ids)).order_by(Party.id)):
        parties.setdefault(p.case_id, []).append(p)
    region_ids = {c.grid_id for c in cases.values() if c.grid_id} | {c.region_id for c in cases.values()}
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(region_ids)))}
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    items = dict(session.execute(select(CatalogItem.id, CatalogItem.name).where(
        CatalogItem.id.in_({c.catalog_item_id for c in cases.values() if c.catalog_item_id}))).all())
    limits: dict[int, str] = {}
    for case_id, text, due in session.execute(
            select(CaseDeadline.case_id, CaseDeadline.limit_text, CaseDeadline.due_at)
            .where(CaseDeadline.case_id.in_(ids), CaseDeadline.stage == "resolve").order_by(CaseDeadline.round)):
        limits[case_id] = f"{text}（{due.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}前）"
    results: dict[int, str] = {}
    acceptors: dict[int, int] = {}
    for case_id, action, note, actor in session.execute(
            select(CaseEvent.case_id, CaseEvent.action, CaseEvent.note, CaseEvent.actor_id)
            .where(CaseEvent.case_id.in_(ids), CaseEvent.action.in_(["feedback", "accept"])).order_by(CaseEvent.at)):
        if action == "feedback":
            results[case_id] = note or ""
        elif actor:
            acceptors[case_id] = actor
    names = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_(set(acceptors.values()) | {c.leader_id for c in cases.values() if c.leader_id}))).all())
    pii = principal.sees_pii
    out = []
    for case_id in ids:
        c = cases.get(case_id)
        if c is None:
            continue
        people = parties.get(case_id, [])
        who = "、".join(p.name + (f"（{p.phone if pii else mask_phone(p.phone)}）" if p.phone else "") for p in people)
        region = regions.get(c.region_id)
        grid = regions.get(c.grid_id) if c.grid_id else None
        if c.state == CaseState.CLOSED.value:
            success = "是" if c.outcome == "solved" else "否"
        else:
            success = ""
        person = names.get(c.leader_id) if c.leader_id else names.get(acceptors.get(case_id, 0))
        out.append([
            c.number, c.title, c.discovered_at.astimezone(LOCAL_TZ).date().isoformat(),
            c.address or (region.name if region else ""), _SCALE.get(c.risk, "一般"),
            items.get(c.catalog_item_id) or KIND_LABELS[CaseKind(c.kind)], len(people), c.description, who,
            limits.get(case_id, ""), c.track or "", depts.get(c.department_id, "") if c.department_id else "",
            person or "", success, results.get(case_id, ""), c.satisfaction or "", grid.code if grid else "",
            CaseState(c.state).label])
    return out

