"""The reference model: shipped types and corpus, its model file, translation into a county's list, reasons."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pytest
from test_triage_support import small_list

from fengqiao.triage import reference
from fengqiao.triage.router import Router
from fengqiao.triage.zeroshot import ZeroShotRouter


def test_shipped_corpus_names_only_known_types_and_grades() -> None:
    types = reference.reference_types()
    codes = {t.code for t in types}
    assert len(codes) == len(types) >= 150
    corpus = reference.reference_corpus(codes)
    assert len(corpus) >= 3000
    per_type = Counter(c.type_code for c in corpus)
    assert len(per_type) >= 0.9 * len(types)          # nearly every type has texts
    assert {c.risk for c in corpus} == {"高", "中", "低"}


def test_a_bad_corpus_line_says_which_line(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = {t.code for t in reference.reference_types()}
    good = reference._read_bytes("corpus.jsonl").splitlines()[:2]
    bad = '{"type": "R-999", "risk": "低", "text": "无"}'.encode()
    monkeypatch.setattr(reference, "_read_bytes", lambda name: b"\n".join([*good, bad]))
    with pytest.raises(ValueError, match="第 3 行.*R-999"):
        reference.reference_corpus(codes)
    monkeypatch.setattr(reference, "_read_bytes", lambda name: b"\n".join([*good, bad.replace(b"R-999", b"R-001")
                                                                            .replace("低".encode(), b"red")]))
    with pytest.raises(ValueError, match="第 3 行.*red"):
        reference.reference_corpus(codes)


def test_the_model_file_is_reused_only_for_the_same_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = reference.shipped_reference()
    path = tmp_path / "m.pkl"
    model.save(path)
    assert reference._try_load(path, model.key) is not None
    assert reference._try_load(path, "another-key") is None      # data changed → rebuild
    path.write_bytes(b"not a pickle")
    assert reference._try_load(path, model.key) is None          # broken file → rebuild, no crash
    monkeypatch.setenv("FENGQIAO_REFERENCE_MODEL", str(tmp_path / "env.pkl"))
    assert reference.model_paths("k")[0] == tmp_path / "env.pkl"


def test_loaded_model_gives_the_same_answers_as_the_built_one(tmp_path: Path) -> None:
    model = reference.shipped_reference()
    path = tmp_path / "m.pkl"
    model.save(path)
    with path.open("rb") as fh:
        again = pickle.load(fh)["model"]
    text = "包工头跑了，俺们二十多个人的工钱一分没结"
    p, vec = model.type_probs(text)
    p_again, vec_again = again.type_probs(text)
    assert (p_again == p).all()
    assert again.high_risk(vec_again) == model.high_risk(vec)
    # one feature space for both questions, also after loading (the file holds the vocabulary once)
    assert again.risk._fast is again.topic._fast


def test_reference_types_translate_into_a_county_list_they_never_saw() -> None:
    items = small_list()
    ref = reference.ReferenceMap(reference.shipped_reference(), ZeroShotRouter(items))
    names = {t.name: r for r, t in enumerate(ref.model.types)}
    codes = [it.code for it in items]

    def best(type_name: str) -> str:
        return codes[int(ref.matrix[names[type_name]].argmax())]

    assert best("拖欠农民工工资") == "T-02"
    assert best("井盖缺失破损隐患") == "T-01"
    assert best("餐饮油烟扰民") == "T-07"
    assert ref.matrix.sum(axis=1) == pytest.approx(1.0)


def test_router_reasons_name_the_reference_type_and_a_similar_text() -> None:
    router = Router.from_list(small_list())
    s = router.route("俺们在工地上干了大半年，老板一分钱不给，电话也打不通了")
    assert s.item_code == "T-02"
    assert any(r.startswith("参考事项：") for r in s.reasons)


def test_router_without_reference_is_plain_zero_shot() -> None:
    router = Router.from_list(small_list(), reference=False)
    assert router.reference is None
    assert router.route("包工头跑了，工钱一分没结").item_code == "T-02"


def test_reference_risk_adds_high_but_never_over_a_cue_that_says_not_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from fengqiao.triage import router as router_module

    router = Router.from_list(small_list())
    monkeypatch.setattr(router_module, "REFERENCE_HIGH", 0.0)   # every text is "like a 高 reference case"
    s = router.route("楼上邻居家的狗天天叫")
    assert s.risk == "高" and any("参考案例相似" in c for c in s.risk_cues)
    s = router.route("去年他说过要跳楼，现在早没事了，就是楼上的狗天天叫")
    assert s.risk != "高"                                        # a past threat stays in the past
    monkeypatch.setattr(router_module, "REFERENCE_HIGH", None)
    assert router.route("楼上邻居家的狗天天叫").risk == "低"
