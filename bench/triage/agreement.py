"""How often two people who label the same texts independently agree: a ceiling for the router's figures.

Compares the writer's labels of a set with a second labeller's (who saw only id, text and channel, and
the list): department top-1, item top-1, either one's listed alternates counted, and 高 risk.
Run: .venv/bin/python bench/triage/agreement.py round4/holdout4.jsonl bench/triage/round4/holdout4_second.jsonl
(second file: JSON lines {"id","item_code","alt_codes","risk"}; see README.md, round 4.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import acceptable, demo_list, departments, jsonl  # noqa: E402


def main() -> None:
    first = {c["id"]: c for c in jsonl(sys.argv[1])}
    second = {c["id"]: c for c in map(json.loads, Path(sys.argv[2]).read_text(encoding="utf-8").splitlines()) if c}
    dept = departments(demo_list())
    both = [(first[k], second[k]) for k in first if k in second and first[k].get("item_code") and second[k].get("item_code")]
    n = len(both)
    d1 = sum(dept[a["item_code"]] == dept[b["item_code"]] for a, b in both)
    i1 = sum(a["item_code"] == b["item_code"] for a, b in both)
    d_alt = sum(bool({dept[c] for c in acceptable(a)} & {dept[c] for c in acceptable(b)}) for a, b in both)
    second_in_first = sum(b["item_code"] in acceptable(a) for a, b in both)
    null_agree = sum((first[k].get("item_code") is None) == (second[k].get("item_code") is None) for k in first if k in second)
    print(f"{n} texts that both labellers gave an item; {len(first)} in all")
    print(f"department top-1 agreement {d1 / n:.3f}; item top-1 agreement {i1 / n:.3f}")
    print(f"second's item among the writer's item + alternates {second_in_first / n:.3f}; "
          f"departments overlap when alternates count {d_alt / n:.3f}")
    print(f"agree on whether any item fits {null_agree / len(first):.3f}")
    pairs = [(first[k]["risk"] == "高", second[k]["risk"] == "高") for k in first if k in second]
    tp = sum(a and b for a, b in pairs)
    print(f"高 risk: writer {sum(a for a, _ in pairs)}, second {sum(b for _, b in pairs)}, both {tp}; "
          f"second's recall of the writer's 高 {tp / max(1, sum(a for a, _ in pairs)):.3f}, "
          f"precision {tp / max(1, sum(b for _, b in pairs)):.3f}")


if __name__ == "__main__":
    main()
