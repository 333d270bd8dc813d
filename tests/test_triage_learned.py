"""Learning from history: a model trained on confirmed routings beats zero-shot on that county."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from test_triage_support import small_list

from fengqiao.triage.exceptions import ModelFileError
from fengqiao.triage.router import Router

# This county words things its own way: the list does not say "碰瓷" or "路灯" says nothing of "亮化".
PATTERNS = {
    "T-01": ["{p}那块铁板子被人撬走了，剩个黑窟窿", "{p}地上的铁盖子翘起来了，车一过就响", "{p}铁板子碎了，底下黑咕隆咚的"],
    "T-02": ["在{p}干了三个月活，老板一分钱没结", "{p}老板跑路了，我们的血汗钱没着落", "{p}年底了还拿不到辛苦钱"],
    "T-03": ["{p}对门天天把垃圾袋放门口", "{p}隔壁把鞋柜摆到楼道里", "{p}对门把电瓶车推到过道不挪"],
    "T-04": ["{p}楼上洗澡水顺着灯往下流", "{p}我家顶上湿了一大片，是楼上的事", "{p}屋顶往下渗，墙都黑了"],
    "T-05": ["{p}闻到一股臭鸡蛋味，怕是管子坏了", "{p}灶台那边一直有嘶嘶声，味道很冲", "{p}厨房里味道冲得头晕"],
    "T-06": ["{p}亮化工程的灯一到晚上就灭", "{p}晚上黑咕隆咚的，杆子上的灯坏了", "{p}那一排灯杆都没亮"],
    "T-07": ["{p}烧烤摊熏得衣服都是味", "{p}楼下饭馆的排风扇对着我家吹", "{p}炒菜的烟天天往屋里钻"],
    "T-08": ["{p}做完手术伤口一直化脓，医生说不是他的事", "{p}打完针孩子就抽了，卫生院不认账", "{p}开错了药吃出了毛病"],
}
PLACES = ["东关", "西关", "城南", "王庄", "李楼", "后范", "张庄", "北街", "南街", "新村"]


def _cases(seed: int, per_item: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"text": rng.choice(pats).format(p=rng.choice(PLACES)), "item_code": code}
            for code, pats in PATTERNS.items() for _ in range(per_item)]


def _accuracy(router: Router, cases: list[dict[str, str]]) -> float:
    return sum(router.route(c["text"]).item_code == c["item_code"] for c in cases) / len(cases)


@pytest.fixture(scope="module")
def trained() -> Router:
    return Router.from_list(small_list(), history=_cases(1, 12))


def test_learned_router_beats_zero_shot_on_the_county(trained: Router) -> None:
    held_out = _cases(2, 5)
    zero = _accuracy(Router.from_list(small_list()), held_out)
    learned = _accuracy(trained, held_out)
    assert learned >= zero + 0.2, (learned, zero)
    assert trained.train_report is not None and trained.train_report.items_with_history == 8


def test_learned_suggestion_cites_a_similar_past_case(trained: Router) -> None:
    s = trained.route("西关那块铁板子被人撬走了")
    assert s.item_code == "T-01"
    assert any(r.startswith("相似历史案件") for c in s.candidates[:1] for r in c.reasons)


def test_item_without_history_still_routes() -> None:
    history = [c for c in _cases(3, 12) if c["item_code"] != "T-05"]
    router = Router.from_list(small_list(), history=history)
    assert router.route("楼道里一股很重的煤气味，燃气管道漏气").item_code == "T-05"


def test_unknown_codes_in_history_are_skipped_and_counted() -> None:
    history = _cases(4, 6) + [{"text": "不知道是什么事", "item_code": "X-99"}]
    router = Router.from_list(small_list(), history=history)
    assert router.train_report is not None and router.train_report.unknown_codes == {"X-99": 1}


def test_too_little_history_is_refused() -> None:
    with pytest.raises(ValueError, match="太少"):
        Router.from_list(small_list(), history=_cases(5, 1)[:5])


def test_model_file_round_trip_and_list_check(trained: Router, tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    trained.save(path)
    loaded = Router.load(small_list(), path)
    text = "城南亮化工程的灯一到晚上就灭"
    assert loaded.route(text).item_code == trained.route(text).item_code
    with pytest.raises(ModelFileError, match="另一版清单"):
        Router.load(small_list()[:-1], path)
    (tmp_path / "junk.pkl").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="无法读取"):
        Router.load(small_list(), tmp_path / "junk.pkl")


def test_jieba_word_features_train_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    # filterwarnings=error turns any jieba warning into a failure; its loading chatter must not reach stderr
    router = Router.from_list(small_list(), history=_cases(6, 12), words=True)
    assert router.route("北街铁板子碎了，底下黑咕隆咚的").item_code == "T-01"
    assert "Building prefix dict" not in capfd.readouterr().err


# -- the per-text fast paths give what the fitted sklearn objects would --------------------------------------

def _texts() -> list[str]:
    return [c["text"] for c in _cases(3, 6)]


def test_fast_vector_equals_the_fitted_vectorizers() -> None:
    import numpy as np

    from fengqiao.triage.learned import TextClassifier
    from fengqiao.triage.text import normalise

    texts = [normalise(t) for t in _texts()]
    labels = [c["item_code"] for c in _cases(3, 6)]
    reference = TextClassifier(head=8)
    X = reference._fit_features(texts).toarray()            # sklearn's own rows
    clf = TextClassifier(head=8).fit(texts, labels, calibrate=False)
    fast = clf.transform(texts).toarray()                    # built text by text, no sklearn
    assert fast.shape == X.shape
    assert np.allclose(fast, X, atol=1e-6)
    unseen = ["完全没见过的句子", "", "铁板子"]
    cols, vals = clf.vector(normalise(unseen[1]))
    assert len(cols) == len(vals) == 0
    cols, vals = clf.vector(normalise(unseen[2]))
    assert len(cols) and abs(float(vals @ vals) - 2.0) < 1e-6   # two blocks (char, head), each l2-normalised


def test_similar_past_case_is_the_nearest_by_cosine() -> None:
    import numpy as np

    from fengqiao.triage.learned import ExampleIndex, TextClassifier
    from fengqiao.triage.text import normalise

    cases = _cases(4, 6)
    clf = TextClassifier().fit([c["text"] for c in cases], [c["item_code"] for c in cases], calibrate=False)
    examples = {"T-01": [normalise(c["text"]) for c in cases if c["item_code"] == "T-01"]}
    index = ExampleIndex(clf, examples)
    for probe in ("东关那块铁板子被人撬走了", "新村地上的铁盖子翘起来了", "黑窟窿"):
        vec = clf.vector(normalise(probe))
        sims = clf.transform(examples["T-01"]) @ clf.transform([probe]).T
        best = examples["T-01"][int(np.argmax(sims.toarray().ravel()))]
        assert index.similar(vec, "T-01") == [best]
    assert index.similar(clf.vector("铁板子"), "T-99") == []
    assert index.similar((np.zeros(0, dtype=np.int64), np.zeros(0)), "T-01") == []


def test_sparse_row_product_matches_scipy() -> None:
    import numpy as np
    from scipy import sparse

    from fengqiao.triage.zeroshot import _rows_dot

    rng = np.random.default_rng(0)
    m = sparse.random(50, 7, density=0.1, random_state=1, format="csr")
    for rows in (np.array([], dtype=np.int64), np.array([3]), rng.choice(50, 12, replace=False)):
        w = rng.random(len(rows))
        expected = (m[rows].T @ w) if len(rows) else np.zeros(7)
        assert np.allclose(_rows_dot(m, rows, w), expected)


def test_class_bias_recovers_a_known_bias_and_shrinks_rare_classes() -> None:
    from fengqiao.triage.learned import _class_bias

    rng = np.random.default_rng(0)
    n, true = 20_000, np.array([1.0, -0.5, 0.0, -0.5])
    z = rng.normal(size=(n, 4))
    u = z + true
    p = np.exp(u) / np.exp(u).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(4, p=row) for row in p])
    b = _class_bias(z, gold)
    assert np.allclose(b - b.mean(), true - true.mean(), atol=0.08)
    # the same correction seen in 3 cases only: pulled most of the way back to 0
    few = _class_bias(z[:3], gold[:3])
    assert np.abs(few).max() < 0.5 * np.abs(b).max()
