#!/usr/bin/env python
"""Bulk ledger (台账) import: rows per second for preview and all-or-nothing import.

    .venv/bin/python bench/intake/ledger_import.py                 # 20,000 rows, 10% still open, PostgreSQL
    .venv/bin/python bench/intake/ledger_import.py --rows 5000 --open-share 0.5
    .venv/bin/python bench/intake/ledger_import.py --sqlite        # the same on a SQLite file

Writes an .xlsx with the columns counties use (事件名称, 登记日期, 简要情况, 当事人 with phone and
ID number, 是否化解, 网格编码 ...), then times ``ledger.preview`` (read, map, check every row) and
``ledger.import_ledger`` (one transaction: history rows and their parties, and a case through
``register`` for each row still open) on a fresh database with the demo county.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).parent))
from common import DEFAULT_URL, create_database, drop_database  # noqa: E402

from fengqiao.bootstrap import init_database  # noqa: E402
from fengqiao.cases.validation import make_id_number  # noqa: E402
from fengqiao.db import Database  # noqa: E402
from fengqiao.demo.generate import build_demo  # noqa: E402
from fengqiao.intake import ledger  # noqa: E402
from fengqiao.intake.service import system_principal  # noqa: E402
from fengqiao.org.models import Region, RegionLevel  # noqa: E402
from sqlalchemy import select  # noqa: E402

HEADER = ["序号", "纠纷编号", "事件名称", "登记日期", "发生地点", "纠纷类型", "涉及人数", "简要情况", "当事人", "调解方式",
          "调解组织", "调解员", "是否化解", "化解情况", "网格编码"]
TYPES = ["邻里纠纷", "婚姻家庭纠纷", "劳资纠纷", "土地承包纠纷", "物业纠纷", "宅基地纠纷", "交通事故纠纷"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗"


def make_ledger(rows: int, open_share: float, grid_codes: list[str], seed: int = 5) -> bytes:
    rng = random.Random(seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(HEADER)
    start = date(2024, 1, 1)
    for i in range(rows):
        kind = rng.choice(TYPES)
        people = []
        for _ in range(rng.choice([1, 2, 2, 3])):
            name = rng.choice(SURNAMES) + rng.choice(["某", "大", "二", "小"])
            phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
            idn = make_id_number(f"411621{1950 + rng.randint(0, 50)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                                 f"{rng.randint(100, 999)}") if rng.random() < 0.5 else ""
            people.append(f"{name}（{phone}）{idn}")
        opened = rng.random() < open_share
        ws.append([i + 1, f"TZ-{i + 1:06d}", f"{kind}（第{i + 1}号）", start + timedelta(days=rng.randint(0, 600)),
                   f"城关镇第{rng.randint(1, 30)}组", kind, len(people),
                   f"{kind}：双方因{rng.choice(['债务', '界址', '噪音', '工资', '赡养', '漏水'])}问题发生争执，经排查登记。第{i + 1}号",
                   "、".join(people), "人民调解", "村调委会", "调解员" + rng.choice(SURNAMES),
                   "" if opened else rng.choice(["是", "是", "是", "否"]), "" if opened else "已调解",
                   rng.choice(grid_codes)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--open-share", type=float, default=0.1)
    ap.add_argument("--sqlite", action="store_true", help="run on a SQLite file instead of PostgreSQL")
    args = ap.parse_args()
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='fengqiao-ledger-')}/bench.db"
    else:
        url = args.url
        create_database(url)
    try:
        db = Database(url)
        init_database(db)
        build_demo(db, cases=0)
        with db.read() as s:
            codes = list(s.scalars(select(Region.code).where(Region.level == RegionLevel.GRID.value)))
        t0 = time.perf_counter()
        data = make_ledger(args.rows, args.open_share, codes)
        print(f"ledger: {args.rows:,} rows, {len(data) / 1e6:.1f} MB .xlsx, written in {time.perf_counter() - t0:.1f} s")
        with db.read() as s:
            t0 = time.perf_counter()
            p = ledger.preview(s, data, "台账.xlsx", None)
            t_preview = time.perf_counter() - t0
        assert not p["errors"], p["errors"][:5]
        print(f"preview (read + check every row): {t_preview:.2f} s = {args.rows / t_preview:,.0f} rows/s; "
              f"{p['to_cases']:,} to become cases, {p['history']:,} history")
        t0 = time.perf_counter()
        with db.unit_of_work() as s:
            result = ledger.import_ledger(s, system_principal(s), data, "台账.xlsx", None)
        t_import = time.perf_counter() - t0
        print(f"import ({'SQLite' if args.sqlite else 'PostgreSQL'}, one transaction): {t_import:.2f} s = "
              f"{args.rows / t_import:,.0f} rows/s ({result['cases']:,} cases registered, {result['history']:,} history)")
    finally:
        if not args.sqlite:
            drop_database(url)


if __name__ == "__main__":
    main()
