"""Pre-request token estimates: tiktoken, times a learned factor where the service's tokenizer is unpublished.

Estimates exist for routing and pre-flight limits only; billing always uses the usage the
provider reports. Each estimate says where it came from (``tiktoken``, ``calibrated`` or
``heuristic``) so the log can show how far to trust it. Whether a model's count needs
calibration is a fact of its provider (``calibrate_input_tokens``), passed in by the caller;
``observe`` feeds actual usage back so a calibrated model's factor keeps learning.

Encodings load lazily, once per counter, from tiktoken's local cache (``TIKTOKEN_CACHE_DIR``)
and never from the network: a request path must not stall on a download. If an encoding
cannot load, the counter answers with the labelled ``ceil(chars / 4)`` heuristic from then on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .pricing import split_profile
from .types import ChatMessage

# Claude's tokenizer is unpublished; its counts run above o200k's on English prose. 1.15 is a
# deliberately high starting point (over-estimating is the safe side for limits) until usage
# arrives. Observed ratios are clamped so one odd response cannot wreck the factor.
DEFAULT_CALIBRATION = 1.15
CALIBRATION_BOUNDS = (0.5, 3.0)
CALIBRATION_ALPHA = 0.1  # EWMA weight once past the warm-up, where a running mean is used

# OpenAI cookbook recipe (docs/wire.md): per message 3 tokens plus its fields, plus 3 tokens
# priming the reply.
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
# Tool definitions are not covered by the recipe (the service renders them in its own
# format); they are counted as their JSON text plus a few tokens of framing each, which
# tracks the rendered size closely enough for routing and limits.
TOKENS_PER_TOOL = 8
HEURISTIC_CHARS_PER_TOKEN = 4

# Only short strings (system prompts, templates, repeated questions) are worth remembering;
# long prompts are rarely repeated and would fill memory.
CACHE_MAX_CHARS = 2048
CACHE_SIZE = 4096

_O200K = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "gpt-oss")
_CL100K = ("gpt-4", "gpt-35-turbo", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002")
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_MISSING = object()


@dataclass(frozen=True)
class TokenEstimate:
    """``tokens`` is the estimate to use; ``raw_tokens`` the uncalibrated count that ``observe`` wants back."""

    tokens: int
    source: str  # "tiktoken" | "calibrated" | "heuristic"
    raw_tokens: int


def encoding_name(model: str) -> str:
    """tiktoken encoding for a model name (not an Azure deployment name: map that first)."""
    m = model.strip().lower()
    if m.startswith(_O200K):
        return "o200k_base"
    if m.startswith(_CL100K):
        return "cl100k_base"
    # Claude and anything unknown: the newer, larger vocabulary is the closer base.
    return "o200k_base"


def heuristic_tokens(text: str) -> int:
    return math.ceil(len(text) / HEURISTIC_CHARS_PER_TOKEN)


def load_cached_encoding(name: str):
    """``tiktoken.get_encoding`` restricted to files already in tiktoken's cache.

    tiktoken downloads a missing file on its own; refusing first keeps every load local.
    """
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    cache_file = os.path.join(cache_dir, hashlib.sha1(_BLOB.format(name).encode()).hexdigest())
    if not cache_dir or not os.path.isfile(cache_file):
        raise FileNotFoundError(f"{name} is not in the tiktoken cache; set TIKTOKEN_CACHE_DIR")
    import tiktoken

    return tiktoken.get_encoding(name)


@dataclass
class _Calibration:
    factor: float
    observations: int = 0


class TokenCounter:
    """Token counts and estimates. Safe to share between threads; keep one per process.

    ``loader`` maps an encoding name to an object with ``encode_ordinary``; it is called at
    most once per encoding name, and any exception it raises selects the heuristic for good.
    """

    def __init__(
        self,
        loader: Callable[[str], Any] | None = None,
        *,
        default_factor: float = DEFAULT_CALIBRATION,
        cache_size: int = CACHE_SIZE,
    ):
        self._loader = loader or load_cached_encoding
        self._default_factor = default_factor
        self._encodings: dict[str, Any] = {}
        self._load_lock = threading.Lock()
        self._cal: dict[str, _Calibration] = {}
        self._cal_lock = threading.Lock()
        self._cached_count = functools.lru_cache(maxsize=cache_size)(self._encode_count)

    # --- encodings ----------------------------------------------------------------------

    def warm(self, models: Iterable[str]) -> None:
        """Load the encodings these models need now, not on the first request (~0.2 s each)."""
        for model in models:
            self._encoding(encoding_name(model))

    def _encoding(self, name: str):
        enc = self._encodings.get(name, _MISSING)
        if enc is not _MISSING:
            return enc
        with self._load_lock:
            enc = self._encodings.get(name, _MISSING)
            if enc is _MISSING:
                try:
                    enc = self._loader(name)
                except Exception:  # offline, missing cache, corrupt file: all mean "heuristic"
                    enc = None
                self._encodings[name] = enc
        return enc

    def _encode_count(self, name: str, text: str) -> int:
        return len(self._encodings[name].encode_ordinary(text))

    def _count(self, name: str, text: str) -> int:
        # encode_ordinary: user text containing "<|endoftext|>" is counted, not rejected.
        if len(text) <= CACHE_MAX_CHARS:
            return self._cached_count(name, text)
        return self._encode_count(name, text)

    # --- counting -----------------------------------------------------------------------

    def estimate_messages(
        self, model: str, messages: Sequence[ChatMessage], *, calibrate: bool = False, tools: Sequence[str] = ()
    ) -> TokenEstimate:
        """Prompt tokens for a chat, with the chat overhead recipe, plus ``tools`` (each tool
        definition or response schema as JSON text, see ``tool_texts``); scaled by the model's
        learned factor when ``calibrate`` (the service counts with a tokenizer tiktoken does not have)."""
        name = encoding_name(model)
        texts = [t for m in messages for t in _message_texts(m)]
        if self._encoding(name) is None:
            n = sum(TOKENS_PER_MESSAGE + 1 for _ in messages) + sum(heuristic_tokens(t) for t in texts) + REPLY_PRIMING
            n += sum(TOKENS_PER_TOOL + heuristic_tokens(t) for t in tools)
            return TokenEstimate(n, "heuristic", n)
        raw = REPLY_PRIMING + sum(TOKENS_PER_MESSAGE + self._count(name, m.role) for m in messages)
        raw += sum(self._count(name, t) for t in texts)
        raw += sum(TOKENS_PER_TOOL + self._count(name, t) for t in tools)
        if not calibrate:
            return TokenEstimate(raw, "tiktoken", raw)
        return TokenEstimate(math.ceil(raw * self.calibration_factor(model)), "calibrated", raw)

    def count_text(self, model: str, text: str, *, calibrate: bool = False) -> TokenEstimate:
        """Tokens in plain text (no chat overhead), e.g. the part of an answer a caller received;
        calibrated like a prompt when the service's tokenizer is not tiktoken's."""
        name = encoding_name(model)
        if self._encoding(name) is None:
            n = heuristic_tokens(text)
            return TokenEstimate(n, "heuristic", n)
        raw = self._count(name, text)
        if not calibrate:
            return TokenEstimate(raw, "tiktoken", raw)
        return TokenEstimate(math.ceil(raw * self.calibration_factor(model)), "calibrated", raw)

    # --- calibration --------------------------------------------------------------------

    def calibration_factor(self, model: str) -> float:
        cal = self._cal.get(_key(model))
        return self._default_factor if cal is None else cal.factor

    def observe(self, model: str, raw_tokens: int, actual_input_tokens: int) -> None:
        """Learn a calibrated model's factor from one call: ``raw_tokens`` from its estimate,
        ``actual_input_tokens`` from the usage the provider reported."""
        if raw_tokens <= 0 or actual_input_tokens <= 0:
            return
        if self._encoding(encoding_name(model)) is None:
            return  # a heuristic count would teach the factor the wrong ratio
        lo, hi = CALIBRATION_BOUNDS
        ratio = min(max(actual_input_tokens / raw_tokens, lo), hi)
        with self._cal_lock:
            cal = self._cal.setdefault(_key(model), _Calibration(self._default_factor))
            cal.observations += 1
            # Running mean while young (fast start from logged history), then an EWMA that
            # follows tokenizer changes without jumping on a single call.
            alpha = max(CALIBRATION_ALPHA, 1.0 / cal.observations)
            cal.factor += alpha * (ratio - cal.factor)

    def seed_calibration(self, rows: Iterable[tuple[str, int, int]]) -> int:
        """Replay logged ``(model, raw_tokens, actual_input_tokens)`` rows, oldest first; returns rows used."""
        used = 0
        for model, raw, actual in rows:
            if raw and actual and raw > 0 and actual > 0:
                self.observe(model, int(raw), int(actual))
                used += 1
        return used


def _message_texts(m: ChatMessage) -> list[str]:
    texts = [m.content]
    for call in m.tool_calls:
        texts += [call.name, call.arguments]
    return texts


def tool_texts(request) -> tuple[str, ...]:
    """What a request's tools and response schema add to its prompt, as JSON text."""
    texts = [
        json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters}, separators=(",", ":"))
        for t in request.tools or ()
    ]
    fmt = request.response_format
    if fmt is not None and fmt.schema is not None:
        texts.append(json.dumps(fmt.schema, separators=(",", ":")))
    return tuple(texts)


def _key(model: str) -> str:
    # A profile id or ARN tokenises exactly like its bare model.
    return split_profile(model.lower())[1]
