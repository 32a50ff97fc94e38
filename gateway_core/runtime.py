"""The runtime: every long-lived part one request needs, built once by ``Gateway`` and passed down.

A ``Runtime`` is a frozen, typed bundle: the provider adapters by name, the configured
routes (which model on which provider, and which price row bills it), the price table, the
token counter, the circuit breaker, the latency and output-length statistics, the usage
log, governance (keys, budgets, rate limits), the secret scrubber, whether content is
stored, the random source for exploration, and telemetry (a no-op object when it is off).
Planning, the executor and row building read it; none of them holds a
reference back to the ``Gateway`` that built it, so a request's path only ever goes down.
The objects inside are shared and thread-safe; the bundle itself never changes.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .breaker import CircuitBreaker
from .governance import Governance
from .pricing import PriceTable
from .providers.base import Provider
from .stats import LatencyTracker, OutputTokenStats, QualityTracker
from .telemetry import Telemetry
from .tokens import TokenCounter
from .usage.writer import UsageLog


@dataclass(frozen=True)
class Route:
    """One configured candidate: ``model`` on ``provider``, billed as ``priced_as``."""

    provider: str
    model: str
    priced_as: str


class LockedRandom:
    """``random()`` from a seeded generator, safe to call from many request threads."""

    def __init__(self, seed: int | None = None):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._rng.random()


@dataclass(frozen=True)
class Runtime:
    providers: Mapping[str, Provider]
    routes: tuple[Route, ...]
    prices: PriceTable
    tokens: TokenCounter
    breaker: CircuitBreaker
    latency: LatencyTracker
    output_stats: OutputTokenStats
    usage_log: UsageLog
    governance: Governance
    scrub: Callable[[str | None], str | None]
    store_content: bool
    rng: Callable[[], float]
    quality: QualityTracker | None = None  # blind-vote standing, when a quality floor is set
    telemetry: Telemetry = field(default_factory=Telemetry)  # off unless the gateway built one

    def provider(self, name: str) -> Provider:
        return self.providers[name]
