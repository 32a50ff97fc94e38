"""Latency profiles: how long an emulated model takes to its first token and per token.

``zero`` answers at once (tests, benchmarks). ``demo`` is realistic and makes the two
providers clearly different, so latency routing has something to find: Azure about
250 ms to first token and 90 tokens/s, Bedrock about 550 ms and 55 tokens/s. Small models
(mini, nano, haiku) are a little quicker, reasoning and Opus-class models slower. Jitter is
log-normal and drawn from a seeded RNG, so a demo run is repeatable.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """One provider's pace. ``jitter`` is the log-normal sigma applied to both numbers."""

    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0 means "no generation delay"
    jitter: float = 0.0


PROFILES: dict[str, dict[str, Timing]] = {
    "zero": {"azure": Timing(), "bedrock": Timing()},
    "demo": {"azure": Timing(250, 90, 0.18), "bedrock": Timing(550, 55, 0.22)},
}

# (substring of the model name, TTFT factor, speed factor); first match wins.
_MODEL_FACTORS = (
    ("nano", 0.7, 1.6),
    ("mini", 0.8, 1.35),
    ("haiku", 0.75, 1.5),
    ("opus", 1.5, 0.6),
    ("o3", 2.5, 1.0),
    ("o4", 2.5, 1.0),
    ("4.1", 1.05, 0.95),
)


def model_factors(model: str) -> tuple[float, float]:
    m = model.lower()
    for key, ttft, speed in _MODEL_FACTORS:
        if key in m:
            return ttft, speed
    return 1.0, 1.0


class Pacer:
    """Turns a profile into concrete delays; thread-safe, one per emulator."""

    def __init__(self, provider: str, profile: str | Timing = "zero", seed: int = 0) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._rng = random.Random(f"{provider}:{seed}")
        self.set(profile)

    def set(self, profile: str | Timing) -> None:
        """A profile name (``zero``/``demo``) or an explicit ``Timing``."""
        if isinstance(profile, Timing):
            timing, name = profile, "custom"
        elif profile in PROFILES:
            timing, name = PROFILES[profile][self.provider], profile
        else:
            raise ValueError(f"unknown latency profile {profile!r}; known: {', '.join(PROFILES)}")
        with self._lock:
            self._timing, self.name = timing, name

    def plan(self, model: str, output_tokens: int) -> tuple[float, float]:
        """(seconds to first token, seconds for the whole generation after it)."""
        with self._lock:
            t = self._timing
            noise = [math.exp(self._rng.gauss(0, t.jitter)) if t.jitter else 1.0 for _ in range(2)]
        f_ttft, f_speed = model_factors(model)
        ttft = t.ttft_ms / 1000.0 * f_ttft * noise[0]
        gen = output_tokens / (t.tokens_per_s * f_speed * noise[1]) if t.tokens_per_s else 0.0
        return ttft, gen
