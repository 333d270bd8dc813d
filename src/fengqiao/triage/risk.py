"""Risk grading 高/中/低 from cues in the text, with the cues that caused it.

高: threats of violence or self-harm, weapons, gatherings/banners/road blocking, danger to life
(gas, collapse, fire, flood, a person with a mental disorder acting violently).
中: repeated unresolved complaints, many people (≥10) or large sums, vulnerable people, rising anger.
低: otherwise. The cue list is data (lexicon/risk_cues.tsv); administrators add their own with
``RiskGrader(extra_cues=...)``. A cue right after a negation in the same clause ("没有煤气味",
"不是着火") does not count — cheap, and it removes the commonest false alarms. Lines of grade 否
are exclusions: a cue inside one of their phrases does not count (打不着火 is not 着火).
A 高 cue that is hypothetical or in the past (万一着火, 上次漏气, 2023年…被打伤, 淹死过人), hedged (是气话),
heard of elsewhere (看见新闻说别的县…), checked and found harmless (报警称着火了，经核实系熏腊肉) or already
dealt with in the same sentence (燃气泄漏已经处理完了, 民警出警后情绪平稳) becomes a 中 cue labelled with
the reason, so the operator still sees it. A blockade word (堵在, 围在, 罢工 ...) with ≥10 people or a group word
(工人们, 拆迁户, 一群) makes a gathering: 高.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fengqiao.triage.lexicon import CueSpec, PhraseMatcher, parse_cues, shipped_cues
from fengqiao.triage.text import normalise

GRADES = ("高", "中", "低")
MANY_PEOPLE = 10          # ≥ this many people involved → 中
VERY_MANY_PEOPLE = 50     # with a 高 cue, ≥ this many → 包案调 (see router)
LARGE_SUM = 100_000       # yuan; ≥ this → 中
# before a cue in its clause: the past, and possibilities. A person's threat or despair stays a
# danger when it is only "possible" (可能有轻生念头, 担心他想不开): for those kinds only the past counts.
_PAST = ("上次", "上回", "去年", "前年", "以前", "曾", "过去", "上周", "上个月", "上月", "上星期", "前几天",
         "前段时间", "前些年", "前几年", "那年", "当年", "早年", "年前", "那次", "那天说", "说过")   # substrings: 曾 covers 曾经
# heard of, not happening here: a cue after these in its sentence is news, a rumour or another place
_HEARSAY = ("新闻说", "新闻里", "新闻上", "抖音上", "快手上", "短视频", "朋友圈有人", "网上看", "网上说", "网上有人",
            "别的县", "外地的", "外县", "听说别的", "电视上", "电视里", "网上流传", "传言", "谣传")
_POSSIBLE = ("万一", "怕", "容易", "如果", "一旦", "担心", "防止", "可能", "会不会", "以免", "小心", "生怕",
             "要是", "假如", "倘若", "真要", "到时候", "演练", "演习", "模拟", "早晚会", "迟早会",
             "误以为", "误认为")
_YEAR = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})年")   # "2023年5月我被打伤": a year gone by is the past
_HYPOTHETICAL_AFTER = ("风险", "隐患", "危险", "的可能", "怎么办", "是气话", "的气话", "气话", "开玩笑", "是玩笑",
                       "说着玩", "演练", "演习", "算不算", "是否违法", "犯法吗", "违法吗", "说笑", "一样",
                       "似的", "xswl", "哈哈", "hhh", "笑死")
# checked and found harmless, later in the sentence or the next one (报警称着火了，经民警核实系熏腊肉): any kind
_DEBUNKED = ("核实系", "核实为", "经核实", "发现系", "查明系", "实为", "其实是", "系误报", "是误报", "发错了", "发错",
             "是谣言", "辟谣", "外地的视频", "非火情", "无火情", "无危险", "人员安全", "无过激", "玩具", "人没事",
             "已经和好", "和好了", "已道歉", "救上来了", "已救出", "已全部拿到", "钱已经全拿到", "与本地无关",
             "没有这回事", "没这回事", "没得事", "虚惊一场", "误按",
             "别传了", "别再转了", "说不去了", "都不去了", "就不去了")
# dealt with: later in the same sentence as the cue (燃气泄漏已经处理完了; 被打，民警出警后双方情绪平稳)
_RESOLVED = ("已修好", "已经修好", "修好了", "已处理", "已经处理", "处理完", "处理好了", "已解决", "已经解决",
             "已排除", "已经排除", "已扑灭", "已经扑灭", "扑灭了", "已经灭了", "火灭了", "已经扶正", "扶正了",
             "调解好", "已调解", "已经调解", "和解了", "已和解", "情绪平稳", "已平息", "平息了", "暂时没事",
             "没事了", "已劝开", "劝开了", "已经分开", "已经拉开", "已经抢修", "抢修好", "已恢复", "已经恢复",
             "扑灭", "已复位", "误报", "系统测试", "测试信号", "已劝阻", "劝阻后", "灭了", "好转", "救回来了",
             "救过来了", "抢救过来", "没味了", "已更换", "换了", "抢修完毕",
             "修复完毕", "处置完毕", "自行下楼", "已经下来了", "已无异味", "无异味", "已关阀", "已化解", "化解了",
             "都回去了", "已经收了")
# people sent away: the crowd is over, a falling sign or a crack is not (已劝离并拉警戒线 under a swinging billboard)
_DISPERSED = ("散去", "劝散", "已劝离", "劝离")
_CROWD_KINDS = {"群体聚集", "围堵", "冲突", "情绪激烈", "集体来访", "暴力伤害", "扬言伤人"}
_NEGATORS = ("没有", "没", "无", "未", "不是", "并非", "并没有", "排除", "不存在", "不再", "别", "没再", "已无")
_CLAUSE = re.compile(r"[，,。；;！!？?\n、：:]")
_SENTENCE = re.compile(r"[。；;！!？?\n]")
# a person who threatened, wants to die or is ill stays a danger after the fire is out
_PERSISTENT = {"扬言伤人", "轻生自伤", "精神障碍肇事", "家庭暴力", "持械"}
_CROWD_ANGER = {"情绪激烈", "冲突", "围堵"}   # with ≥10 people these make a gathering
_BLOCKADE = "围堵"                           # with a group word (工人们, 一群) it makes a gathering too
_VISIT = "集体来访"                          # so does a collective visit, named as such
_VISIT_WORDS = ("集体来访", "集体上访", "一起上访", "集体访")
_CN = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_NUM = r"[0-9]+(?:\.[0-9]+)?|[零一二两俩三四五六七八九十百千万几]+"
_WHO = "人|户|名|位|农民工|工人|女工|男工|业主|村民|群众|家长|学生|孩子|员工|职工|骑手|商户|住户|老人|人员"
_PEOPLE = re.compile(rf"({_NUM})\s*(多|余|来|几)?\s*(个|名|位|户|家|口子|口)?\s*({_WHO})")
_MONEY = re.compile(rf"({_NUM})\s*(多|余|来)?\s*(万|千|百)?\s*(多)?\s*(元|块|万|块钱)")
_VAGUE_MANY = ("上百", "几百", "好几百", "上千", "几十", "好几十", "数十", "成百", "一百多", "二三十", "三四十")


def chinese_number(text: str) -> float | None:
    """12 / 12.5 / 十二 / 二十万 / 几十 (→ 20: a low reading of a vague number)."""
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return float(text)
    text = text.replace("几", "二") if text not in ("几",) else "三"
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN:
            digit = _CN[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10_000:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (1 if digit is None else digit) * unit
                digit = None
        else:
            return None
    return float(total + section + (digit or 0))


@dataclass(frozen=True)
class Cue:
    grade: str      # 高 / 中
    kind: str       # 扬言伤人, 重复反映, 涉及人数多 ...
    phrase: str     # the words of the case that triggered it
    demoted: bool = False   # a 高 cue that is not a danger now (past, hearsay, hedged, checked, dealt with)

    def describe(self) -> str:
        return f"{self.grade}风险：{self.kind}（“{self.phrase}”）"


@dataclass(frozen=True)
class RiskResult:
    grade: str
    cues: tuple[Cue, ...] = field(default_factory=tuple)
    people: int | None = None     # largest head-count mentioned
    amount: float | None = None   # largest sum mentioned, yuan

    def kinds(self) -> set[str]:
        return {c.kind for c in self.cues}


class RiskGrader:
    """Grade a case text. Build once, call :meth:`grade` per case (a few tens of microseconds)."""

    def __init__(self, cues: Sequence[CueSpec] | None = None, extra_cues: Iterable[CueSpec | str] | str | None = None,
                 many_people: int = MANY_PEOPLE, large_sum: float = LARGE_SUM, this_year: int | None = None) -> None:
        specs = list(shipped_cues() if cues is None else cues)
        if isinstance(extra_cues, str):
            specs += parse_cues(extra_cues)
        else:
            for c in extra_cues or ():
                specs += parse_cues(c) if isinstance(c, str) else [c]
        self.specs = [s for s in specs if s.grade != "否"]
        self.exclusions = [s for s in specs if s.grade == "否"]
        self.many_people, self.large_sum = many_people, large_sum
        self.this_year = this_year or datetime.date.today().year
        self._matcher: PhraseMatcher[CueSpec] = PhraseMatcher((p, s) for s in self.specs for p in s.phrases)
        self._excluder: PhraseMatcher[CueSpec] = PhraseMatcher((p, s) for s in self.exclusions for p in s.phrases)

    def grade(self, text: str, reporter_history: int = 0) -> RiskResult:
        """``reporter_history``: earlier reports by the same person on this matter (≥2 counts as repeated)."""
        t = normalise(text)
        cues: dict[tuple[str, str], Cue] = {}
        conditional: set[tuple[str, str]] = set()
        masked = bytearray(len(t))
        for start, phrase, _ in self._excluder.finditer(t):
            masked[start:start + len(phrase)] = b"\x01" * len(phrase)
        for start, phrase, specs in self._matcher.finditer(t):
            if _negated(t, start) or any(masked[start:start + len(phrase)]):
                continue
            not_now = _not_now(t, start, phrase, self.this_year)   # 已核实无险 / 传闻 / 已过去 / 假设, or None
            possible = _preceded_by(t, start, _POSSIBLE)
            resolved = not (not_now or possible) and _resolved(t, start, phrase)
            dispersed = not (not_now or possible) and _resolved(t, start, phrase, _DISPERSED)
            for spec in specs:
                if spec.requires and not _cooccurs(t, start, phrase, spec.requires):
                    continue
                done = resolved or (dispersed and spec.kind in _CROWD_KINDS)
                if spec.grade == "高" and (not_now or (possible and spec.kind not in _PERSISTENT)):
                    # "万一着火" is a hazard to fix, not a fire to run to; "上次着火" is history
                    label = (not_now or "可能") + spec.kind
                    cues.setdefault(("中", label), Cue("中", label, phrase, demoted=True))
                elif spec.grade == "高" and done and spec.kind not in _PERSISTENT:
                    # "燃气泄漏已经处理完了": follow up, no one needs to run
                    cues.setdefault(("中", "已处置的" + spec.kind), Cue("中", "已处置的" + spec.kind, phrase, demoted=True))
                elif spec.grade == "中" and spec.kind in _CROWD_ANGER and (not_now or done):
                    # still worth a look, but a crowd that has gone home makes no gathering below
                    cues.setdefault(("中", "已过去的" + spec.kind), Cue("中", "已过去的" + spec.kind, phrase,
                                                                    demoted=True))
                elif (spec.grade, spec.kind) not in cues or (not spec.requires and (spec.grade, spec.kind) in conditional):
                    # a phrase that is a cue on its own (弄死) names the cue better than one that needed company (扬言)
                    cues[(spec.grade, spec.kind)] = Cue(spec.grade, spec.kind, phrase)
                    if spec.requires:
                        conditional.add((spec.grade, spec.kind))
                    else:
                        conditional.discard((spec.grade, spec.kind))
        people = _max_people(t)
        if people is not None and people >= self.many_people:
            cues.setdefault(("中", "涉及人数多"), Cue("中", "涉及人数多", f"约{int(people)}人"))
        amount = _max_amount(t)
        if amount is not None and amount >= self.large_sum:
            cues.setdefault(("中", "涉及金额大"), Cue("中", "涉及金额大", f"约{amount / 10_000:g}万元"))
        kinds = {k for _, k in cues}
        if (people or 0) >= self.many_people and kinds & _CROWD_ANGER:
            why = "、".join(sorted(kinds & _CROWD_ANGER))
            cues.setdefault(("高", "群体聚集"), Cue("高", "群体聚集", f"约{int(people or 0)}人且{why}"))
        elif _VISIT in kinds and "涉及人数多" in kinds and (word := next((w for w in _VISIT_WORDS if w in t), None)):
            # a collective visit (集体访: five or more people by the petition rules) of many is a gathering
            group = cues[("中", "涉及人数多")].phrase
            cues.setdefault(("高", "群体聚集"), Cue("高", "群体聚集", f"{group}且{word}"))
        elif _BLOCKADE in kinds and "涉及人数多" in kinds:
            group = cues[("中", "涉及人数多")].phrase
            cues.setdefault(("高", "群体聚集"), Cue("高", "群体聚集", f"{group}且{cues[('中', _BLOCKADE)].phrase}"))
        if reporter_history >= 2:
            cues.setdefault(("中", "重复反映"), Cue("中", "重复反映", f"此前已反映{reporter_history}次"))
        ordered = tuple(sorted(cues.values(), key=lambda c: GRADES.index(c.grade)))
        grade = ordered[0].grade if ordered else "低"
        return RiskResult(grade, ordered, int(people) if people is not None else None, amount)


def says_no_danger_now(text: str) -> bool:
    """The text itself says the danger was checked and is none, or is over (经核实系演练, 误报, 已扑灭); not
    when the marker is negated (没抢救过来 is no rescue)."""
    t = normalise(text)
    return any(_unnegated(t, m, 2, ("没", "未", "不")) for m in (*_DEBUNKED, *_RESOLVED, *_DISPERSED))


def _unnegated(text: str, marker: str, before: int, negators: Sequence[str]) -> bool:
    """``marker`` occurs in ``text`` somewhere without one of ``negators`` in the ``before`` characters ahead of it."""
    i = text.find(marker)
    while i >= 0:
        if not any(n in text[max(0, i - before):i] for n in negators):
            return True
        i = text.find(marker, i + 1)
    return False


def _negated(text: str, start: int) -> bool:
    """A negator just before the cue, inside the same clause: 没有煤气味, 不是着火, 未发现漏气."""
    lo = start
    while lo > 0 and start - lo < 6 and not _CLAUSE.match(text[lo - 1]):
        lo -= 1
    window = text[lo:start]
    return any(window.endswith(n) or (n in window and len(window) - window.rfind(n) <= 4) for n in _NEGATORS)


def _preceded_by(text: str, start: int, markers: Sequence[str]) -> bool:
    """万一着火 / 怕电池起火 / 上次着火: one of ``markers`` before the cue, in its clause."""
    lo = start
    while lo > 0 and start - lo < 8 and not _CLAUSE.match(text[lo - 1]):
        lo -= 1
    return any(h in text[lo:start] for h in markers)


def _begins(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where the clause (or sentence) holding ``pos`` begins."""
    return max((m.end() for m in pattern.finditer(text, 0, pos)), default=0)


def _ends(pattern: re.Pattern[str], text: str, pos: int) -> int:
    m = pattern.search(text, pos)
    return m.start() if m else len(text)


def _not_now(text: str, start: int, phrase: str, this_year: int) -> str | None:
    """Why a cue is not a danger now, as the prefix of its 中 label, or None when it may be.

    已核实无险的: found harmless later in this sentence or the next (报警称着火了，经民警核实系熏腊肉);
    传闻中的: news or another place, before it in its sentence (看见新闻说别的县有人跳楼);
    已过去的: a past marker anywhere before it in its clause (去年其家中仓库被人纵火), a year before this
    one in its clause (2023年5月我被打伤), or the past aspect right after it (淹死过人);
    假设的: taken back right after (想跳楼了（开玩笑的）, 其实就是气话, 存在触电风险).
    """
    end = start + len(phrase)
    later = text[end:_ends(_SENTENCE, text, _ends(_SENTENCE, text, end) + 1)]
    if any(d in later for d in _DEBUNKED):
        return "已核实无险的"
    if any(h in text[_begins(_SENTENCE, text, start):start] for h in _HEARSAY):
        return "传闻中的"
    lo, hi = _begins(_CLAUSE, text, start), _ends(_CLAUSE, text, start)
    if (any(h in text[lo:start] for h in _PAST) or text.startswith("过", end)
            or any(int(y.group(1)) < this_year for y in _YEAR.finditer(text, lo, hi))):
        return "已过去的"
    if any(h in text[end:end + 12] for h in _HYPOTHETICAL_AFTER):
        return "假设的"
    return None


def _resolved(text: str, start: int, phrase: str, markers: Sequence[str] = _RESOLVED) -> bool:
    """燃气泄漏已经处理完了 / 被打，民警出警后双方情绪平稳: dealt with, later in the same sentence."""
    rest = text[start + len(phrase):_ends(_SENTENCE, text, start + len(phrase))]
    # 还没处理完, 正在劝离: not yet
    return any(_unnegated(rest, r, 5, ("没", "未", "不", "别", "正在")) for r in markers)


def _cooccurs(text: str, start: int, phrase: str, requires: Sequence[str]) -> bool:
    """One of ``requires`` in the same sentence as the cue (not negated)."""
    lo, hi = _begins(_SENTENCE, text, start), _ends(_SENTENCE, text, start + len(phrase))
    sentence = text[lo:hi]
    for r in requires:
        i = sentence.find(r)
        while i >= 0:
            if not (lo + i <= start < lo + i + len(r)) and not _negated(text, lo + i):
                return True
            i = sentence.find(r, i + 1)
    return False


def _max_people(text: str) -> float | None:
    best: float | None = None
    for m in _PEOPLE.finditer(text):
        n = chinese_number(m.group(1))
        if n is not None and n == int(n):
            best = n if best is None else max(best, n)
    for v in _VAGUE_MANY:
        if re.search(rf"{v}\s*(多|来)?\s*(个|名|位|户|家|口|号)?\s*({_WHO})", text):   # 几百块钱 is no crowd
            n = 100.0 if v in ("上百", "几百", "好几百", "上千", "成百", "一百多") else 20.0
            best = n if best is None else max(best, n)
    return best


def _max_amount(text: str) -> float | None:
    best: float | None = None
    for m in _MONEY.finditer(text):
        n = chinese_number(m.group(1))
        if n is None:
            continue
        unit = m.group(3) or ("万" if m.group(5) == "万" else "")
        n *= {"万": 10_000, "千": 1000, "百": 100, "": 1}[unit]
        best = n if best is None else max(best, n)
    return best
