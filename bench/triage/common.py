"""Shared loaders for the triage benches: the demo list, the demo templates filled in, the independent set."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

from fengqiao.triage.catalog import ListItem, parse_list

HERE = Path(__file__).resolve().parent
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
_DEMO = "fengqiao.demo.content"


def demo_text(name: str) -> str:
    return resources.files(_DEMO).joinpath(name).read_text(encoding="utf-8")


def demo_list() -> list[ListItem]:
    return parse_list(demo_text("catalog.csv").encode("utf-8"), "catalog.csv")


def _places() -> list[str]:
    regions = json.loads(demo_text("regions.json"))
    return [t["name"] + v["name"] for t in regions["towns"] for v in t["villages"]]


def demo_cases(seed: int = 7) -> list[dict]:
    """The 4 templates per item, placeholders filled like the demo generator does; gold = the key."""
    rng = random.Random(seed)
    names = json.loads(demo_text("names.json"))
    places = _places()
    out = []
    for code, texts in json.loads(demo_text("case_templates.json")).items():
        for k, t in enumerate(texts):
            text = t.format(place=rng.choice(places), person=rng.choice(names["surnames"]) + rng.choice(names["given"]),
                            n=rng.randint(3, 40), amount=rng.choice([3000, 8600, 12000, 25000, 46000, 130000]))
            out.append({"id": f"{code}#{k}", "text": text, "item_code": code, "template": k})
    return out


def jsonl(name: str) -> list[dict]:
    """A case set of bench/triage (``name`` relative to it, e.g. ``round3/dev3.jsonl``)."""
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def independent_cases(scored_only: bool = True) -> list[dict]:
    """bench/triage/independent_cases.jsonl: texts written without looking at the list (see README)."""
    rows = jsonl("independent_cases.jsonl")
    return [r for r in rows if r["item_code"]] if scored_only else rows


def departments(items: list[ListItem]) -> dict[str, str]:
    return {it.code: it.department for it in items}


def acceptable(case: dict) -> list[str]:
    """The labeller's item code and the alternates they found equally defensible (``alt_codes``)."""
    return [case["item_code"], *case.get("alt_codes", [])]


def template_high_risk() -> set[str]:
    """Ids (``FG-046#0``) of templates hand-labelled 高 risk (bench/triage/template_high_risk.txt)."""
    return {line.strip() for line in (HERE / "template_high_risk.txt").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


def dev_cases() -> list[dict]:
    """bench/triage/dev_cases.jsonl: a second development set (written after reading the list), for tuning."""
    return jsonl("dev_cases.jsonl")


def risk_dev() -> list[dict]:
    """bench/triage/risk_dev.jsonl: a third development set, written for risk cues (see README)."""
    return jsonl("risk_dev.jsonl")


def risk_holdout() -> list[dict]:
    """bench/triage/risk_holdout.jsonl: 40 texts written with risk_dev (a development set since round 3)."""
    return jsonl("risk_holdout.jsonl")
