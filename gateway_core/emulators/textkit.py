"""Small, dependency-free text tools behind the emulators' answers.

Sentence splitting, word-frequency sentence scoring (for extractive summaries), key-term
picking, entity spotting (dates, amounts, percentages, e-mails, names…), a tiny sentiment
lexicon and a tidy-up rewrite. Everything here is a pure function of its input, which is
what keeps the emulators' answers deterministic.
"""

from __future__ import annotations

import re
from collections import Counter

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours please tell give explain describe write want need
    know think make like use using used get one two many much well really thing things way ways
    following text below above summarise summarize summary extract classify classification
    rewrite answer question help let us may might must shall hello hey today thanks thank
    morning afternoon evening doing going without within across cut cuts monthly weekly daily
    yearly hurting hurt keep keeping start starting small big good better best new old lot lots
    should' shouldn't can't won't don't doesn't
    """.split()
)

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"

ENTITY_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")),
    ("url", re.compile(r"\bhttps?://[^\s,;)]+")),
    ("date", re.compile(rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}} {_MONTHS} \d{{4}}\b|\b{_MONTHS} \d{{1,2}},? \d{{4}}\b")),
    (
        "amount",
        re.compile(
            r"(?:[$£€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|bn|k|m)\b)?)|\b\d[\d,]*(?:\.\d+)? ?(?:USD|EUR|GBP|dollars|euros|pounds)\b"
        ),
    ),
    ("percentage", re.compile(r"\b\d+(?:\.\d+)?\s?%")),
    ("card", re.compile(r"\b(?:\d{4}[ -]){3}\d{4}\b")),
    ("phone", re.compile(r"(?:\+|\(|\b)\d[\d ()-]{8,}\d\b")),
)
_NAME = re.compile(r"\b(?:[A-Z][a-z]+|[A-Z]{2,})(?:\s+(?:[A-Z][a-z]+|[A-Z]{2,}|of|de|van))*\s+(?:[A-Z][a-z]+|[A-Z]{2,})\b")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")

POSITIVE = frozenset(
    "good great excellent love loved happy pleased fast helpful easy recommend amazing wonderful best fantastic reliable smooth delighted satisfied perfect impressive".split()
)
NEGATIVE = frozenset(
    "bad poor terrible hate hated slow broken angry disappointed worst awful useless fail failed failure crash crashed refund problem issue late rude expensive unhappy bug error".split()
)

# Words that point at common ticket labels when the text never names the label itself.
LABEL_HINTS = {
    "billing": frozenset("invoice charge charged payment refund price bill billed subscription card".split()),
    "technical": frozenset("error bug crash crashed login password broken install timeout outage slow".split()),
    "sales": frozenset("quote pricing demo trial buy purchase upgrade plan".split()),
    "complaint": frozenset("disappointed angry terrible worst unacceptable rude".split()),
}

_CONTRACTIONS = (
    (r"\bcan't\b", "cannot"),
    (r"\bwon't\b", "will not"),
    (r"\bshan't\b", "shall not"),
    (r"\b(it|that|there|what|who|he|she)'s\b", r"\1 is"),
    (r"\blet's\b", "let us"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"\bI'm\b", "I am"),
    (r"\bi'm\b", "I am"),
)


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def words(text: str) -> list[str]:
    return [w.lower().strip("'-") for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def top_sentences(text: str, k: int) -> list[str]:
    """The ``k`` best sentences by mean content-word frequency, in their original order."""
    sents = sentences(text)
    if len(sents) <= k:
        return sents
    freq = Counter(content_words(text))

    def score(item: tuple[int, str]) -> tuple[float, int]:
        idx, sent = item
        ws = content_words(sent)
        value = sum(freq[w] for w in ws) / (len(ws) ** 0.5) if ws else 0.0
        return (-value, idx)  # ties go to the earlier sentence

    chosen = sorted(sorted(enumerate(sents), key=score)[:k])
    return [s for _, s in chosen]


def key_terms(text: str, k: int = 3) -> list[str]:
    """Up to ``k`` salient words, as first written: frequent first, then longer, then earlier."""
    ws = content_words(text)
    freq = Counter(ws)
    first = {w: i for i, w in reversed(list(enumerate(ws)))}
    ranked = sorted(freq, key=lambda w: (-freq[w], -len(w), first[w]))[:k]
    spelled = {w.lower().strip("'-"): w.strip("'-") for w in reversed(_WORD.findall(text))}
    return [spelled.get(w, w) for w in ranked]


def topic(text: str, max_words: int = 4) -> str:
    """The longest run of adjacent content words, as written ("circuit breakers", "GPU idle
    time"): a subject phrase reads better in an answer than a lone key term."""
    best: list[str] = []
    run: list[str] = []
    for word in _WORD.findall(text) + [""]:
        w = word.lower().strip("'-")
        if len(w) > 2 and w not in STOPWORDS:
            run.append(word.strip("'-"))
            continue
        if len(run) > len(best):
            best = run
        run = []
    return " ".join(best[:max_words])


def entities(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs in order of kind, each value once."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, match: re.Match) -> None:
        span = match.span()
        if any(a < span[1] and span[0] < b for a, b in taken):
            return
        value = match.group(0).strip().rstrip(".,")
        if (kind, value) not in found:
            found.append((kind, value))
        taken.append(span)

    for kind, pattern in ENTITY_PATTERNS:
        for m in pattern.finditer(text):
            add(kind, m)
    for m in _NAME.finditer(text):
        add("name", m)
    for m in _NUMBER.finditer(text):
        add("number", m)
    return found


def sentiment(text: str) -> tuple[str, list[str]]:
    """``positive``/``negative``/``neutral`` and the words that decided it."""
    ws = words(text)
    pos = [w for w in ws if w in POSITIVE]
    neg = [w for w in ws if w in NEGATIVE]
    if len(pos) > len(neg):
        return "positive", pos
    if len(neg) > len(pos):
        return "negative", neg
    return "neutral", pos + neg


def candidate_labels(instruction: str) -> list[str]:
    """Labels offered in an instruction such as 'classify as billing, technical or other'."""
    m = re.search(r"(?:as|into|labels?:|categories?:|one of:?)\s+([\w\s,/'-]+?\s(?:or|and)\s[\w'-]+)", instruction, re.I)
    if not m:
        return []
    parts = re.split(r",|\bor\b|\band\b|/", m.group(1))
    labels = [p.strip().strip("'\"").lower() for p in parts]
    return [lab for lab in labels if lab and len(lab.split()) <= 3]


def tidy(text: str) -> str:
    """Expand contractions, normalise spacing, capitalise sentences, end with punctuation."""
    out = " ".join(text.split())
    for pattern, repl in _CONTRACTIONS:
        out = re.sub(pattern, repl, out, flags=re.I)
    out = re.sub(r"\bi\b", "I", out)
    out = re.sub(r"\s+([,.;:!?])", r"\1", out)
    out = re.sub(r"([!?.,;:])\1+", r"\1", out)
    fixed = []
    for sent in (s for s in re.split(r"(?<=[.!?])\s+", out) if s):
        sent = sent[0].upper() + sent[1:]
        fixed.append(sent if sent[-1] in ".!?\"')" else sent + ".")
    return " ".join(fixed)
