"""Token counts the emulators report as ``usage``, and truncation to an output cap.

Azure counts with tiktoken (``o200k_base`` for gpt-4o / gpt-4.1 / o-series, ``cl100k_base``
for gpt-4 and gpt-3.5) using the OpenAI chat recipe: 3 tokens per message, +1 for a
``name``, +3 reply priming. The emulator never downloads an encoding: it loads one only
when tiktoken's cache already holds the file (``TIKTOKEN_CACHE_DIR``), and if that is
missing or loading fails it uses the documented heuristic ``ceil(chars / 4)`` per field
with the same overhead. Claude's tokenizer is not published, so Bedrock uses
``ceil(chars / 3.5)`` over all text plus 3 tokens per message (the system prompt counts
as one message).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_LOCK = threading.Lock()
_ENCODINGS: dict[str, object] = {}

AZURE_CHARS_PER_TOKEN = 4.0
CLAUDE_CHARS_PER_TOKEN = 3.5
CLAUDE_MESSAGE_OVERHEAD = 3

# (role, text, name) - the only parts of a message that are counted.
Turn = tuple[str, str, str | None]


def encoding_name(model: str) -> str:
    m = model.lower()
    if m.startswith(("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")):
        return "o200k_base"
    return "cl100k_base"


def _cached_file_present(name: str) -> bool:
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:  # an empty TIKTOKEN_CACHE_DIR disables tiktoken's cache
        return False
    key = hashlib.sha1(_BLOB.format(name).encode()).hexdigest()
    return os.path.isfile(os.path.join(cache_dir, key))


def _encoding(name: str):
    """The tiktoken encoding, or None when it is not available offline (cached per process)."""
    with _LOCK:
        if name not in _ENCODINGS:
            enc = None
            # Checking the cache first means tiktoken never reaches for the network here,
            # so an offline demo cannot stall on a download attempt.
            if _cached_file_present(name):
                try:
                    import tiktoken

                    enc = tiktoken.get_encoding(name)
                except Exception:
                    enc = None
            _ENCODINGS[name] = enc
        return _ENCODINGS[name]


def warm(model: str = "gpt-4o") -> None:
    """Load the encoding ahead of the first request (loading takes a fraction of a second)."""
    _encoding(encoding_name(model))


def azure_rule(model: str) -> str:
    """How Azure counts are made for ``model``: ``tiktoken:<encoding>`` or ``heuristic``."""
    name = encoding_name(model)
    return f"tiktoken:{name}" if _encoding(name) is not None else "heuristic"


def azure_text_tokens(model: str, text: str) -> int:
    enc = _encoding(encoding_name(model))
    if enc is None:
        return math.ceil(len(text) / AZURE_CHARS_PER_TOKEN)
    return len(enc.encode(text, disallowed_special=()))


def azure_prompt_tokens(model: str, turns: Iterable[Turn]) -> int:
    total = 3  # <|start|>assistant<|message|>
    for role, text, name in turns:
        total += 3 + azure_text_tokens(model, role) + azure_text_tokens(model, text)
        if name:
            total += azure_text_tokens(model, name) + 1
    return total


def azure_truncate(model: str, text: str, limit: int) -> str:
    """The first ``limit`` tokens of ``text``."""
    enc = _encoding(encoding_name(model))
    if enc is None:
        return _cut_at_word(text, int(limit * AZURE_CHARS_PER_TOKEN))
    ids = enc.encode(text, disallowed_special=())
    return text if len(ids) <= limit else enc.decode(ids[:limit])


def claude_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CLAUDE_CHARS_PER_TOKEN)


def claude_prompt_tokens(system: Sequence[str], turns: Iterable[Turn]) -> int:
    turns = list(turns)
    chars = sum(len(s) for s in system) + sum(len(t[1]) for t in turns)
    messages = len(turns) + (1 if system else 0)
    return math.ceil(chars / CLAUDE_CHARS_PER_TOKEN) + CLAUDE_MESSAGE_OVERHEAD * messages


def claude_truncate(text: str, limit: int) -> str:
    return _cut_at_word(text, int(limit * CLAUDE_CHARS_PER_TOKEN))


def _cut_at_word(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    # Prefer a word boundary, but never return nothing when the cap allows some text.
    return cut[:space] if space > 0 else cut
