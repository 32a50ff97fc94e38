"""The runtime: every long-lived part one request needs, built once by ``Gateway`` and passed down.

A ``Runtime`` is a frozen, typed bundle: the provider adapters by name, the configured
routes (which model on which provider, and which price row bills it), the price table, the
token counter, the circuit breaker, the latency and output-length statistics, the usage
log, governance (keys, budgets, rate limits), the routing policy (None when there is
none), the secret scrubber, whether content is stored, the random source for exploration,
and telemetry (a no-op object when it is off).
Planning, the executor and row building read it; none of them holds a
reference back to the ``Gateway`` that built it, so a request's path only ever goes down.
The objects inside are shared and thread-safe; the bundle itself never changes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from .breaker import CircuitBreaker
from .governance import Governance
from .governance.policy import PolicyCandidate, PolicyEngine
from .pricing import PriceTable
from .providers.base import Provider
from .stats import LatencyTracker, OutputTokenStats, QualityTracker
from .telemetry import Telemetry
from .tokens import TokenCounter
from .usage.writer import UsageLog


@dataclass(frozen=True)
class Route:
    """One configured candidate: ``model`` on ``provider``, billed as ``priced_as``, running in
    ``region`` (a geography code: ``eu``, ``us``, ``uk``... or ``unknown``; see ``governance.regions``)."""

    provider: str
    model: str
    priced_as: str
    region: str = "unknown"


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
    policy: PolicyEngine | None = None  # the routing policy, when one is configured
    wall_clock: Callable[[], float] = time.time  # epoch seconds: the time of day a policy sees

    @cached_property
    def candidate_facts(self) -> dict[tuple[str, str], dict]:
        """The route catalog as routing policies see it: (provider, model) -> provider, model,
        region and prices per 1,000 tokens (None when unpriced). Routes and prices never
        change, so it is built once; the dicts are shared, and only ever read."""
        table = {}
        for route in self.routes:
            price = self.prices.lookup(route.provider, route.priced_as)
            per_1k = (price.input / 1000, price.output / 1000) if price is not None else (None, None)
            table[(route.provider, route.model)] = PolicyCandidate(route.provider, route.model, route.region, *per_1k).to_input()
        return table

    def provider(self, name: str) -> Provider:
        return self.providers[name]
