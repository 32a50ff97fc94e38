"""Simple instructions in a prompt, followed: the shape an answer was asked to take.

``parse`` reads the user's turn for the few instructions people write most: a number of
bullets, sentences or words ("in three bullets", "in two sentences", "in under 20
words"), "in one word", and JSON asked for in words ("return JSON with the keys name and
team"). ``shaped`` then builds the answer in that shape from the material the task would
have used (the summary's best sentences, the chat answer's points, the extracted facts),
so a demo prompt gets the answer it asked for instead of the emulator's usual layout.
Only the words of the prompt are read here; a request's ``response_format`` is the
wire-level contract and is handled with the wire formats. Pure functions, deterministic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import textkit as tk

NUMBER_WORDS = {
    "a": 1,
    "a single": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
MAX_ITEMS = 20  # an instruction asking for more is still followed, up to this many
_N = r"(\d{1,2}|a single|" + "|".join(w for w in NUMBER_WORDS if w != "a single") + r")"
_BULLETS = re.compile(rf"\b{_N}\s+(?:short\s+|key\s+|main\s+)?(?:bullet[\s-]*points?|bullets?|points)\b", re.I)
_SENTENCES = re.compile(rf"\b{_N}\s+(?:short\s+)?sentences?\b", re.I)
_WORDS = re.compile(
    rf"\b(?:in|with|using)\s+(?:at most\s+|no more than\s+|under\s+|fewer than\s+|less than\s+)?{_N}\s+words?\b"
    rf"|\b{_N}[\s-]word\b",
    re.I,
)
_JSON = re.compile(
    r"\b(?:as|in|return|returns|respond with|reply with|answer with|output|give me|format(?:ted)? as)\b[^.?!\n]{0,30}\bjson\b"
    r"|\bjson\s+(?:object|format|only|with|containing)\b",
    re.I,
)
_KEYS = re.compile(r"\b(?:keys|fields|properties|attributes)\s*:?\s*((?:[\w-]+\s*(?:,|\band\b)\s*)*(?:and\s+)?[\w-]+)", re.I)
_ABOUT = re.compile(r"\b(?:about|regarding|concerning|on the subject of)\s+(?:an?\s+|the\s+)?([^.,;:!?\n]{3,60})", re.I)
_FROM = re.compile(r"\b(?:from|in|at)\s+(?:the\s+)?([a-z][\w-]*)", re.I)


@dataclass(frozen=True)
class Shape:
    """What the prompt asked for; at most one of the counts is set (the first one found
    in the order JSON, bullets, sentences, words)."""

    bullets: int | None = None
    sentences: int | None = None
    words: int | None = None
    json: bool = False
    keys: tuple[str, ...] = ()

    @property
    def asked(self) -> bool:
        return self.json or any(n is not None for n in (self.bullets, self.sentences, self.words))


def _count(match: re.Match) -> int:
    word = next(g for g in match.groups() if g).lower()
    n = int(word) if word.isdigit() else NUMBER_WORDS[word]
    return max(1, min(n, MAX_ITEMS))


def parse(prompt: str) -> Shape:
    if _JSON.search(prompt):
        keys = _KEYS.search(prompt)
        names = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", keys.group(1)) if keys else []
        return Shape(json=True, keys=tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))[:12])
    for pattern, field in ((_BULLETS, "bullets"), (_SENTENCES, "sentences"), (_WORDS, "words")):
        m = pattern.search(prompt)
        if m:
            return Shape(**{field: _count(m)})
    return Shape()


_LEAD = r"(?:\b(?:in|with|as|using|into|of)\s+)?"


def without_instructions(prompt: str) -> str:
    """The prompt with its shape instructions taken out, so they are not read as its topic."""
    out = prompt
    for pattern in (_KEYS, _JSON, _BULLETS, _SENTENCES, _WORDS):
        out = re.sub(_LEAD + f"(?:{pattern.pattern})", " ", out, flags=re.I)
    return " ".join(out.split())


def subject(prompt: str) -> str:
    """The text an instruction applies to: a quoted passage, else what follows the last colon,
    else the prompt without its instructions."""
    quoted = re.findall(r"[\"“']([^\"”']{3,})[\"”']", prompt)
    if quoted:
        return max(quoted, key=len)
    head, colon, tail = prompt.rpartition(":")
    return tail.strip() if colon and tail.strip() else without_instructions(prompt)


# --- building the shaped answer ------------------------------------------------------------


def _sentence(text: str) -> str:
    text = re.sub(r"\*\*|__|`", "", text).strip().lstrip("-•* ").strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _enough(material: Callable[[int], list[str]], n: int, about: str) -> list[str]:
    """``n`` sentences from the task's material, topped up from the subject's key terms."""
    out = [s for s in (_sentence(x) for x in material(n)) if s][:n]
    terms = tk.key_terms(about, MAX_ITEMS) or ["this"]
    i = 0
    while len(out) < n:
        term = terms[i % len(terms)]
        out.append(f"{term[0].upper() + term[1:]} is worth checking {'again ' if i >= len(terms) else ''}as part of this.")
        i += 1
    return out


def one_word(prompt: str, about: str) -> str:
    """A one-word answer: the sentiment, an offered label, or the subject's key term."""
    if "sentiment" in prompt.lower() or "tone" in prompt.lower():
        return tk.sentiment(about)[0].capitalize()
    labels = tk.candidate_labels(prompt)
    if labels:
        ws = set(tk.words(about))
        best = max(labels, key=lambda lab: (len(ws & tk.LABEL_HINTS.get(lab, frozenset())), -labels.index(lab)))
        return best.split()[0].capitalize()
    terms = tk.key_terms(about, 1)
    return terms[0].capitalize() if terms else "Yes"


def _value_for(key: str, about: str, used: set[str]) -> str:
    """A plausible value for a requested JSON key, taken from the subject text."""
    entities = tk.entities(about)
    for kind, value in entities:
        if kind == key or (key in ("person", "customer", "who", "name") and kind == "name"):
            return value
    if key in ("name", "person", "customer", "who", "author"):
        caps = [w for w in re.findall(r"\b[A-Z][a-z]+\b", about) if w.lower() not in tk.STOPWORDS]
        if caps:
            return caps[0]
    if key in ("topic", "subject", "about", "issue", "summary", "title"):
        m = _ABOUT.search(about)
        if m:
            return m.group(1).strip()
    if key in ("team", "department", "group", "org", "organisation", "organization", "company"):
        m = _FROM.search(about)
        if m:
            return m.group(1)
    if key in ("sentiment", "tone", "mood"):
        return tk.sentiment(about)[0]
    fresh = [t for t in tk.key_terms(about, 12) if t.lower() not in used]
    return fresh[0] if fresh else ""


def json_answer(shape: Shape, about: str, task: str, material: Callable[[int], list[str]]) -> str:
    if shape.keys:
        obj, used = {}, set()
        for key in shape.keys:
            obj[key] = _value_for(key, about, used)
            used.add(str(obj[key]).lower())
    elif task == "extract" or (task != "classify" and tk.entities(about)):
        obj = {}
        for kind, value in tk.entities(about):
            obj.setdefault(kind, []).append(value)
        obj = {kind: values[0] if len(values) == 1 else values for kind, values in obj.items()}
    elif task == "classify":
        label, cues = tk.sentiment(about)
        obj = {"label": label, "reason": f"the text contains {', '.join(cues) or 'no strongly charged words'}"}
    else:
        obj = {"answer": " ".join(_enough(material, 2, about)), "key_terms": tk.key_terms(about, 3)}
    return json.dumps(obj, indent=2, ensure_ascii=False)


def shaped(shape: Shape, prompt: str, task: str, material: Callable[[int], list[str]], claude: bool) -> str:
    """The answer in the asked shape; Claude keeps its habit of a short lead-in before a list."""
    about = subject(prompt)
    if shape.json:
        return json_answer(shape, about, task, material)
    if shape.bullets is not None:
        lines = "\n".join(f"- {s}" for s in _enough(material, shape.bullets, about))
        if not claude:
            return lines
        return f"Here {'is the point' if shape.bullets == 1 else f'are the {shape.bullets} points'}:\n\n{lines}"
    if shape.sentences is not None:
        return " ".join(_enough(material, shape.sentences, about))
    if shape.words == 1:
        word = one_word(prompt, about)
        return word + "." if claude else word
    words = " ".join(_enough(material, MAX_ITEMS, about)).split()[: shape.words]
    return " ".join(words).rstrip(",;:.") + "."
