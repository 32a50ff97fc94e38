"""Deterministic answers for the emulators: the same (provider, model, messages) always gives
the same text, streamed or not.

The task is read from keywords in the system prompt and the last user turn: ``summar`` gives
an extractive summary, ``extract`` a ``- key: value`` list, ``classif`` a label with a
one-line justification, ``rewrite`` a tidied rewrite, anything else a templated chat answer
quoting the question's key terms. Each provider has a voice - Azure is terse and uses
bullets, Bedrock (Claude) is discursive and signs off with a closing line - and smaller
models (mini, nano, haiku) say a little less than larger ones. When the user's turn asks
for a shape in words (three bullets, two sentences, twenty words, one word, JSON), the
answer takes that shape instead, built from the same material (``instructions``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence

from . import instructions
from . import textkit as tk

TASK_KEYWORDS = (("summar", "summarise"), ("extract", "extract"), ("classif", "classify"), ("rewrite", "rewrite"))

_AZURE_POINTS = (
    "{T}: start from the outcome you need, then choose the simplest approach that delivers it.",
    "{T}: measure the current baseline before changing anything.",
    "{T}: change one setting at a time so the effect stays visible.",
    "{T}: keep it observable - log what happens and review it regularly.",
    "{T}: compare at least two options on the same inputs before committing.",
    "{T}: write down the decision and the reason, so the next person can follow it.",
    "{T}: check the edge cases - empty input, very large input and timeouts.",
)
# The same advice as whole sentences, for answers asked to come as sentences or bullets.
_AZURE_SENTENCES = tuple(p.replace("{T}: ", "For {t}, ") for p in _AZURE_POINTS)
_AZURE_OPENERS = ("Here is a concise answer on {q}:", "Short version, on {q}:", "Key points on {q}:")
_AZURE_CLOSERS = ("", "Want more detail on any point?", "Happy to expand on any of these.")

_CLAUDE_SENTENCES = (
    "When it comes to {t}, the most useful first step is to be clear about what a good outcome looks like.",
    "It also helps to look at {t} in context rather than in isolation, because the surrounding constraints usually decide the trade-offs.",
    "A practical approach to {t} is to start small, measure the effect, and only then widen the change.",
    "People often underestimate how much {t} depends on the quality of the inputs, so that is worth checking early.",
    "There is rarely a single right answer for {t}; the best choice depends on cost, risk and how quickly you need results.",
    "Keeping a short written record of decisions about {t} makes it much easier to revisit them later.",
    "{T} also benefits from a regular review, since what works today may not be the best option in six months.",
)
_CLAUDE_OPENERS = (
    "That's a thoughtful question about {q}. Let me walk through the main considerations.",
    "Great question. Thinking about {q}, there are a few aspects worth separating out.",
    "I'd be happy to help with {q}. Here is how I would approach it.",
)
_CLAUDE_CLOSERS = (
    "I hope this helps - let me know if you'd like me to go deeper into any of these points.",
    "Let me know if you'd like a more detailed look at any part of this.",
    "If it would be useful, I can expand any of these points with concrete examples.",
)


def detect_task(system: str, user: str) -> str:
    text = f"{system}\n{user}".lower()
    for keyword, task in TASK_KEYWORDS:
        if keyword in text:
            return task
    return "chat"


def task_body(user: str, keyword: str) -> str:
    """The text a task works on: the user turn without its instruction line or prefix."""
    first, _, rest = user.partition("\n")
    if keyword in first.lower() and rest.strip():
        return rest.strip()
    m = re.match(r"[^:\n]{0,80}:\s*", user)
    if m and keyword in m.group(0).lower() and user[m.end() :].strip():
        return user[m.end() :].strip()
    return user.strip()


def _seed(provider: str, model: str, system: str, turns: Sequence[tuple[str, str]]) -> int:
    blob = json.dumps([provider, model, system, list(turns)], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big")


def _small(model: str) -> bool:
    return any(k in model.lower() for k in ("mini", "nano", "haiku"))


def generate(provider: str, model: str, system: str, turns: Sequence[tuple[str, str]]) -> str:
    """The full answer (before any max-tokens cut) for a conversation of (role, text) turns."""
    user = next((text for role, text in reversed(turns) if role == "user"), "")
    rng = random.Random(_seed(provider, model, system, turns))
    claude = provider == "bedrock"
    task = detect_task(system, user)
    shape = instructions.parse(user)
    if shape.asked:
        return instructions.shaped(shape, user, task, _material(task, user, claude, _small(model), rng), claude).strip()
    if task == "summarise":
        body = _summary(task_body(user, "summar"), claude, _small(model))
    elif task == "extract":
        body = _extract(task_body(user, "extract"), claude)
    elif task == "classify":
        body = _classify(f"{system}\n{user}", task_body(user, "classif"), claude)
    elif task == "rewrite":
        body = _rewrite(task_body(user, "rewrite"), claude)
    else:
        body = _chat(user, claude, _small(model), rng)
    return body.strip()


def _summary(text: str, claude: bool, small: bool) -> str:
    n = len(tk.sentences(text))
    k = max(1, min(n, (3 if claude else 2) + (0 if small else 1), (n + 1) // 2 if n > 2 else n))
    picked = tk.top_sentences(text, k)
    if not picked:
        return "There is no text to summarise." if not claude else "I don't see any text to summarise - could you paste it in?"
    if not claude:
        return "Summary:\n" + "\n".join(f"- {s}" for s in picked)
    terms = tk.key_terms(text, 2)
    theme = " and ".join(terms) if terms else "the main points"
    return f"Here is a summary of the text:\n\n{' '.join(picked)}\n\nIn short, the passage centres on {theme}."


def _extract(text: str, claude: bool) -> str:
    found = tk.entities(text)[:12]
    lines = [f"- {kind}: {value}" for kind, value in found] or ["- entities: none found"]
    if not claude:
        return "\n".join(lines)
    return (
        "I found the following items in the text:\n\n"
        + "\n".join(lines)
        + "\n\nLet me know if you need these in another format, such as JSON."
    )


def _pick_label(labels: list[str], mood: str, text: str) -> str:
    """A label that names the sentiment, else the one the text's words (or hints) fit best."""
    named = [lab for lab in labels if mood in lab]
    if named:
        return named[0]
    ws = set(tk.words(text))

    def fit(lab: str) -> tuple[int, int]:
        hints = tk.LABEL_HINTS.get(lab, frozenset())
        return (2 * sum(w in ws for w in lab.split()) + len(ws & hints), -labels.index(lab))

    return max(labels, key=fit)


def _classify(instruction: str, text: str, claude: bool) -> str:
    label, cues = tk.sentiment(text)
    labels = tk.candidate_labels(instruction)
    if labels:
        label = _pick_label(labels, label, text)
        cues = [w for w in tk.words(text) if w in tk.LABEL_HINTS.get(label, ())] or cues
    evidence = ", ".join(f'"{c}"' for c in dict.fromkeys(cues)) if cues else "no strongly charged words"
    reason = f"the text contains {evidence}."
    if not claude:
        return f"Label: {label}\nJustification: {reason[0].upper()}{reason[1:]}"
    return f"Classification: **{label}**\n\nI chose this label because {reason} The overall tone and content point most clearly in that direction."


def _rewrite(text: str, claude: bool) -> str:
    clean = tk.tidy(text) or "(nothing to rewrite)"
    if not claude:
        return clean
    return f"Here is a cleaner version:\n\n{clean}\n\nI expanded the contractions, tidied the spacing and made each sentence start with a capital letter."


def _question(user: str) -> str:
    q = " ".join(user.split())
    q = q if len(q) <= 60 else q[:57].rsplit(" ", 1)[0] + "..."
    return f'"{q}"'


def _chat(user: str, claude: bool, small: bool, rng: random.Random) -> str:
    terms = tk.key_terms(user, 2 if small else 3)
    if not terms:
        if claude:
            return "Hello! It's nice to hear from you. What would you like to talk about today? I'm happy to help with questions, writing, analysis or anything else you have in mind."
        return "Hello! How can I help you today?"
    q = _question(user)
    if not claude:
        points = rng.sample(_AZURE_POINTS, len(terms))
        bullets = "\n".join("- " + p.replace("{T}", f"**{t[0].upper() + t[1:]}**") for p, t in zip(points, terms))
        closer = rng.choice(_AZURE_CLOSERS)
        return "\n\n".join(x for x in (rng.choice(_AZURE_OPENERS).format(q=q), bullets, closer) if x)
    per_term = 1 if small else 2
    sentences = rng.sample(_CLAUDE_SENTENCES, min(len(_CLAUDE_SENTENCES), per_term * len(terms)))
    paragraphs = []
    for i, term in enumerate(terms):
        chunk = sentences[i * per_term : (i + 1) * per_term]
        paragraphs.append(" ".join(s.format(t=term, T=term[0].upper() + term[1:]) for s in chunk))
    opener = rng.choice(_CLAUDE_OPENERS).format(q=q)
    return "\n\n".join([opener, *paragraphs, rng.choice(_CLAUDE_CLOSERS)])


def _material(task: str, user: str, claude: bool, small: bool, rng: random.Random):
    """``n -> sentences`` the task would draw on, for an answer of an asked-for shape."""
    keyword = next((k for k, t in TASK_KEYWORDS if t == task), "")
    body = task_body(user, keyword) if keyword else instructions.subject(user)

    def chat_points(n: int) -> list[str]:
        topic = tk.topic(body)
        terms = ([topic] if topic else []) + [t for t in tk.key_terms(body, n) if t.lower() not in topic.lower()]
        terms = terms or ["this"]
        pool = _CLAUDE_SENTENCES if claude else _AZURE_SENTENCES
        out = []
        for i, template in enumerate(rng.sample(pool, min(n, len(pool)))):
            term = terms[i % len(terms)]
            if not claude and i >= len(terms):  # said "For <topic>" once already: the advice alone reads better
                advice = template.split(", ", 1)[1]
                out.append(advice[0].upper() + advice[1:])
            else:
                out.append(template.format(t=term, T=term[0].upper() + term[1:]))
        return out

    if task == "summarise":
        return lambda n: tk.top_sentences(body, n)
    if task == "extract":
        return lambda n: [f"{kind}: {value}" for kind, value in tk.entities(body)[:n]]
    if task == "classify":
        return lambda n: _classify(user, body, False).replace("Label: ", "").replace("Justification: ", "").split("\n")[:n]
    if task == "rewrite":
        return lambda n: tk.sentences(tk.tidy(body))[:n]
    return chat_points


def chunks(text: str, seed_text: str = "") -> list[str]:
    """Split ``text`` into small word groups (1-3 words) whose concatenation is ``text``."""
    pieces = re.findall(r"\s*\S+", text)
    if not pieces:
        return []
    rng = random.Random(hashlib.sha256((seed_text + text).encode()).digest())
    out, i = [], 0
    while i < len(pieces):
        n = rng.choice((1, 1, 2, 2, 3))
        out.append("".join(pieces[i : i + n]))
        i += n
    trailing = text[len("".join(pieces)) :]
    if trailing:
        out[-1] += trailing
    return out


def apply_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop sequence; True when one was found."""
    hits = [text.find(s) for s in stops if s and s in text]
    if not hits:
        return text, False
    return text[: min(hits)], True
