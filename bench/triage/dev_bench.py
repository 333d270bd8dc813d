"""Development sets only (never the independent set): routing and 高-risk figures, and the mistakes.

Sets: templates (with template_high_risk.txt), dev_cases.jsonl, risk_dev.jsonl (124 texts written for
risk-cue development, 61 高, many hard negatives: past, negated, hypothetical, fixed). This is the
script to look at while changing the lexicon; demo_bench.py prints the independent set and should be
run once at the end of a round.
Run: .venv/bin/python bench/triage/dev_bench.py [--errors] [--risk-errors] [--set=round3/dev3.jsonl] [--only=NAME]
     [--channel]   (pass each case's channel, as the platform and the batch command do)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import demo_cases, demo_list, dev_cases, jsonl, risk_dev, template_high_risk  # noqa: E402

from fengqiao.triage.router import Router  # noqa: E402


def main() -> None:
    items = demo_list()
    dept = {it.code: it.department for it in items}
    name = {it.code: it.name for it in items}
    zs = Router.from_list(items)
    high = template_high_risk()
    sets = {"templates": [dict(c, risk="高" if c["id"] in high else "-") for c in demo_cases()],
            "dev_cases": dev_cases(), "risk_dev": risk_dev(),
            # test sets of rounds 1–2, turned into development sets in round 3 (see README)
            "indep_r1": jsonl("independent_cases.jsonl"), "risk_ho_r2": jsonl("risk_holdout.jsonl")}
    for arg in sys.argv[1:]:
        if arg.startswith("--set="):
            sets[Path(arg[6:]).stem] = jsonl(arg[6:])
    only = [a[7:] for a in sys.argv[1:] if a.startswith("--only=")]
    if only:
        sets = {k: v for k, v in sets.items() if k in only}
    errors: Counter[tuple[str, str]] = Counter()
    for set_name, cases in sets.items():
        d1, i1, i3, tp, fn, fp = [], [], [], [], [], []
        for c in cases:
            s = zs.route(c["text"], channel=c.get("channel") if "--channel" in sys.argv else None)
            gold, pred = c["risk"] == "高", s.risk == "高"
            if gold and pred:
                tp.append(c)
            elif gold:
                fn.append((c, s))
            elif pred:
                fp.append((c, s))
            if not c.get("item_code"):
                continue   # no fitting item: counts for risk only
            top = [x.item_code for x in s.candidates]
            d1.append(s.department == dept[c["item_code"]])
            i1.append(s.item_code == c["item_code"])
            i3.append(c["item_code"] in top)
            if not d1[-1]:
                errors[(dept[c["item_code"]], s.department or "-")] += 1
                if "--errors" in sys.argv:
                    print(f"  DEPT {set_name} {c['id']}: {c['text'][:50]} | gold {name[c['item_code']]}/{dept[c['item_code']]}"
                          f" → {s.candidates[0].name}/{s.department}")
        n_gold = len(tp) + len(fn)
        print(f"{set_name:10s} n={len(cases):3d} dept top-1 {np.mean(d1):.3f}  item top-1 {np.mean(i1):.3f}  "
              f"item top-3 {np.mean(i3):.3f}  高 recall {len(tp) / max(1, n_gold):.3f} ({len(tp)}/{n_gold})  "
              f"precision {len(tp) / max(1, len(tp) + len(fp)):.3f} ({len(tp)}/{len(tp) + len(fp)})")
        if "--risk-errors" in sys.argv:
            for c, s in fn:
                print(f"  MISS {c['id']}: {c['text']} → {s.risk} {s.risk_cues}")
            for c, s in fp:
                print(f"  FALSE {c['id']}: {c['text']} → {s.risk_cues}")
    print("\ncommonest department confusions (gold → predicted):")
    for (g, p), k in errors.most_common(12):
        print(f"  {k:3d}  {g} → {p}")


if __name__ == "__main__":
    main()
