"""Zero-shot routing on real text and a list fengqiao has never seen: the message board's own taxonomy.

The board published its 3-level category tree (附件1.xlsx). Each second-level class of the seven
first-level categories that the labelled messages use becomes one list item (name = second level,
description = its third-level classes, department = the first-level category). The router then
routes the 2,503 real messages of the training split with no training at all; "department" top-1
is the first-level category accuracy. Nothing here was written by the product's authors: list,
texts and labels are the board's. Reads ../shared/data at run time; ships nothing.

Run: .venv/bin/python bench/triage/public_zeroshot.py [--limit N]
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA  # noqa: E402
from public_cv import load  # noqa: E402

from fengqiao.triage.catalog import ListItem  # noqa: E402
from fengqiao.triage.evaluate import format_table, macro_f1  # noqa: E402
from fengqiao.triage.router import Router  # noqa: E402


def board_list(categories: set[str]) -> list[ListItem]:
    import openpyxl

    wb = openpyxl.load_workbook(SHARED_DATA / "raw" / "tipdm2020c" / "附件1.xlsx", read_only=True)
    third: dict[tuple[str, str], list[str]] = defaultdict(list)
    for first, second, leaf in list(wb.active.iter_rows(values_only=True))[1:]:
        if first in categories and second:
            third[(first, second)].append(str(leaf or ""))
    items = []
    for k, ((first, second), leaves) in enumerate(third.items(), 1):
        desc = "、".join(x for x in leaves if x and x != "其他")
        items.append(ListItem(f"B-{k:03d}", second, first, first, "县", "15日", "", desc))
    return items


def main() -> None:
    texts, y = load()
    limit = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--limit=")), None)
    if limit:
        texts, y = texts[:limit], y[:limit]
    items = board_list(set(y))
    router = Router(items)
    print(f"{len(texts)} real messages, {len(set(y))} categories; the board's list: {len(items)} second-level items\n")
    t0 = time.perf_counter()
    pred, conf = [], []
    for t in texts:
        s = router.route(t)
        pred.append(s.department)
        conf.append(s.confidence)
    dt = time.perf_counter() - t0
    ok = np.array([p == g for p, g in zip(pred, y)])
    print(f"zero-shot first-level category: accuracy {ok.mean():.3f}, macro-F1 {macro_f1(list(y), pred):.3f} "
          f"({len(texts) / dt:.0f} texts/s)")
    per = Counter(y)
    rows = [(c, per[c], float(np.mean([o for o, g in zip(ok, y) if g == c]))) for c in sorted(per)]
    print(format_table(rows, ["category", "n", "accuracy"]))
    confusions = Counter((g, p) for g, p in zip(y, pred) if g != p).most_common(8)
    print("commonest confusions (gold → predicted):")
    for (g, p), n in confusions:
        print(f"  {n:4d}  {g} → {p}")


if __name__ == "__main__":
    main()
