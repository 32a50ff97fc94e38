"""Routing: order the (provider, model) candidates for one request, and say why.

``rank`` is a pure function: no I/O, no clock, no randomness (the caller passes
``explore_roll``, a number in [0, 1)). Scores are computed apart from the decision, and
every decision comes back with a human-readable reason plus the score of every candidate.

Rules, applied in this order:

1. **Scores** (lower is better), per ``request.priority``:

   - ``low_cost``: the estimated cost in USD. Unpriced candidates have no score and rank
     after every priced one; the reason says so.
   - ``low_latency``: recent p90 latency in ms — p90 TTFT when streaming, p90 total
     otherwise. A candidate with no samples gets a prior: the median p90 of the candidates
     that have samples (so a newcomer neither wins nor loses by default), or
     ``PRIOR_TOTAL_MS`` / ``PRIOR_TTFT_MS`` when nobody has samples.
   - ``balanced``: ``W_COST × cost/min_cost + W_LATENCY × latency/min_latency`` with both
     weights 0.5; each term is 1.0 for the best candidate. An unpriced candidate's cost
     term is the worst priced term + 1 (all 1.0 when nothing is priced).

2. **Primary group.** ``request.model`` pins the candidates with that model (only the
   hinted provider's, when a hint names one that serves it); otherwise
   ``request.provider_hint`` puts the hinted provider's candidates first; both are ordered
   by score. The remaining candidates follow as fallbacks, except after a pin: a pinned
   model's fallbacks are other copies of the same model (``Candidate.serves``: another
   deployment, another provider's copy), never another model.

3. **Exploration** (``low_latency`` and ``balanced``): when ``explore_roll < explore_rate``
   the least-sampled healthy candidate of the primary group goes first, so a provider that
   recovered, or was just added, keeps getting the samples it needs to win again.

4. **Other provider next.** After the first choice the next healthy candidate is one on
   the other provider when there is one: an outage usually takes a whole provider down.
   A hinted provider's candidates stay together (the hint asked for them); after a pinned
   model, the first fallback is on the other provider.

5. **Open breakers** are kept, but moved to the very end as a last resort (an all-open
   fleet still gets a chance; the executor's ``breaker.allow`` has the final word).
   Half-open candidates keep their place so the probe happens naturally.

6. **``fallback=False``** drops every candidate outside the primary group; without a pin
   or hint, the primary group is the first choice's provider.

7. **Quality floor** (``quality``, when one is set): a model whose blind-vote win rate for
   the request's task has a Wilson lower bound below the floor, once it has
   ``min_votes`` votes for that task, goes after every model that passes (before open
   breakers), and the reason names it with its bound and votes. A pinned model is what
   the caller asked for, so the floor leaves it alone; a hint gives way to the floor.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from .breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from .stats import LatencyTracker, OutputTokenStats, QualityStats, RouteStats

PRIOR_TOTAL_MS = 2000.0
PRIOR_TTFT_MS = 500.0
W_COST = 0.5
W_LATENCY = 0.5
_LATENCY_PRIORITIES = ("low_latency", "balanced")

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "Candidate",
    "CircuitBreaker",
    "LatencyTracker",
    "OutputTokenStats",
    "QualityStats",
    "Ranking",
    "RouteStats",
    "rank",
]


@dataclass(frozen=True)
class Candidate:
    provider: str
    model: str
    est_input_tokens: int
    est_output_tokens: int
    est_cost_usd: Decimal | None  # None: the model is unpriced
    serves: str = ""  # the underlying model (a deployment's model, a profile's bare id); default: model
    # Derived once: rank reads them many times per request.
    key: tuple[str, str] = field(init=False, repr=False, compare=False)
    label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.serves:
            object.__setattr__(self, "serves", self.model)
        object.__setattr__(self, "key", (self.provider, self.model))
        object.__setattr__(self, "label", f"{self.provider}/{self.model}")


@dataclass(frozen=True)
class Ranking:
    ordered: tuple[Candidate, ...]
    reason: str
    scores: dict = field(default_factory=dict)  # label -> score (None = unpriced under low_cost)
    rejected: tuple[tuple[Candidate, float | None, str], ...] = ()
    # The facts behind the scores, so a decision can be explained in words (``explain``):
    priority: str = ""
    streaming: bool = False
    latencies: dict = field(default_factory=dict)  # label -> (p90 ms, True when it is the prior)
    explored: str | None = None  # the label exploration put first, if it did

    @property
    def first(self) -> Candidate | None:
        return self.ordered[0] if self.ordered else None


# --- scoring ---------------------------------------------------------------------------


def _latencies(cands: Sequence[Candidate], stats: RouteStats, streaming: bool) -> dict[str, tuple[float, bool]]:
    """label -> (p90 ms, is_prior)."""
    seen = {c.label: stats.p90(c.key, streaming=streaming) for c in cands}
    known = [v for v in seen.values() if v is not None]
    prior = statistics.median(known) if known else (PRIOR_TTFT_MS if streaming else PRIOR_TOTAL_MS)
    return {label: (prior, True) if v is None else (v, False) for label, v in seen.items()}


def _cost_terms(cands: Sequence[Candidate]) -> dict[str, float]:
    priced = {c.label: float(c.est_cost_usd) for c in cands if c.est_cost_usd is not None}
    if not priced:
        return {c.label: 1.0 for c in cands}
    low = min(priced.values())
    # A free model would divide by zero; a tiny floor keeps ratios finite and ordered.
    terms = {k: (v + 1e-12) / (low + 1e-12) for k, v in priced.items()}
    worst = max(terms.values()) + 1.0
    return {c.label: terms.get(c.label, worst) for c in cands}


def _scores(priority: str, cands, stats, streaming) -> tuple[dict, Callable[[Candidate], str], dict]:
    """(label -> score, a function describing one candidate for the reason, label -> (p90, prior))."""
    metric = "p90 ttft" if streaming else "p90"
    lat = _latencies(cands, stats, streaming)

    def lat_desc(c: Candidate) -> str:
        value, prior = lat[c.label]
        return f"{metric} {value:.0f}ms" + (" (prior)" if prior else "")

    def cost_desc(c: Candidate) -> str:
        return "unpriced" if c.est_cost_usd is None else f"est ${c.est_cost_usd:.6f}"

    if priority == "low_cost":
        return {c.label: None if c.est_cost_usd is None else float(c.est_cost_usd) for c in cands}, cost_desc, lat
    if priority == "low_latency":
        return {k: v for k, (v, _) in lat.items()}, lat_desc, lat
    cost = _cost_terms(cands)
    low_lat = max(min(v for v, _ in lat.values()), 1e-6)
    scores = {c.label: W_COST * cost[c.label] + W_LATENCY * lat[c.label][0] / low_lat for c in cands}

    def balanced_desc(c: Candidate) -> str:
        price = "unpriced" if c.est_cost_usd is None else f"cost x{cost[c.label]:.1f}"
        return f"score {scores[c.label]:.2f} ({price}, {lat_desc(c)} x{lat[c.label][0] / low_lat:.1f})"

    return scores, balanced_desc, lat


# --- ordering --------------------------------------------------------------------------


def _sorted(group, scores, index) -> list[Candidate]:
    def key(c):
        s = scores.get(c.label)
        return (s is None, 0.0 if s is None else s, index[c.label])

    return sorted(group, key=key)


def _other_provider_next(ordered: list[Candidate], start: int) -> list[Candidate]:
    if not ordered or start >= len(ordered) or ordered[start].provider != ordered[0].provider:
        return ordered
    for i in range(start + 1, len(ordered)):
        if ordered[i].provider != ordered[0].provider:
            return ordered[:start] + [ordered[i]] + ordered[start:i] + ordered[i + 1 :]
    return ordered


def _explore(group: list[Candidate], stats: RouteStats, streaming: bool) -> Candidate | None:
    if not group:
        return None
    return min(group, key=lambda c: stats.count(c.key, streaming=streaming))


def _explore_first(healthy: list[Candidate], stats: RouteStats, streaming: bool, notes: list[str]) -> str | None:
    """Move the least-sampled healthy candidate to the front (in place); its label, if it moved."""
    pick = _explore(healthy, stats, streaming) if len(healthy) > 1 else None
    if pick is None or pick == healthy[0]:
        return None
    healthy.remove(pick)
    healthy.insert(0, pick)
    notes.append(f"explore: {pick.label} has {stats.count(pick.key, streaming=streaming)} samples")
    return pick.label


def _split_primary(request, cands, notes) -> tuple[list[Candidate], list[Candidate], bool]:
    """(primary, others, explicit) from the pinned model or the provider hint."""
    if request.model:
        primary = [c for c in cands if c.model == request.model]
        # Several providers may serve the same model id; a hint then says whose to pin.
        hinted = [c for c in primary if c.provider == request.provider_hint]
        if hinted:
            notes.append(f"pinned model {request.model} on {request.provider_hint}")
            primary = hinted
        elif primary:
            notes.append(f"pinned model {request.model}")
        if primary:
            return primary, _same_model(cands, primary, notes), True
        notes.append(f"pinned model {request.model} is not a candidate; ranking all")
    elif request.provider_hint:
        primary = [c for c in cands if c.provider == request.provider_hint]
        if primary:
            notes.append(f"hint={request.provider_hint}")
            return primary, [c for c in cands if c.provider != request.provider_hint], True
        notes.append(f"hint={request.provider_hint} has no candidate; ranking all")
    return list(cands), [], False


def _same_model(cands, primary, notes) -> list[Candidate]:
    """A pin's fallbacks: other copies of the pinned model. Another model would answer a
    question the caller did not ask, so every other candidate is left out, and said so."""
    serves = {c.serves for c in primary}
    copies = [c for c in cands if c not in primary and c.serves in serves]
    left_out = sum(1 for c in cands if c not in primary and c.serves not in serves)
    if left_out:
        notes.append(f"{left_out} candidate(s) serving other models are not fallbacks for a pin")
    return copies


def rank(
    request,
    candidates: Sequence[Candidate],
    stats: RouteStats | None = None,
    *,
    breaker_states: Mapping[tuple[str, str], str] | None = None,
    streaming: bool = False,
    explore_roll: float = 1.0,
    explore_rate: float = 0.05,
    quality: QualityStats | None = None,
) -> Ranking:
    """Order ``candidates`` for ``request`` (see the module docstring for the rules)."""
    cands = list(dict.fromkeys(candidates))
    if not cands:
        return Ranking((), "no candidates configured")
    stats = stats or RouteStats()
    states = breaker_states or {}
    is_open = {c.label: states.get(c.key) == OPEN for c in cands}
    index = {c.label: i for i, c in enumerate(cands)}
    scores, describe, latencies = _scores(request.priority, cands, stats, streaming)
    notes: list[str] = []

    primary, others, explicit = _split_primary(request, cands, notes)
    primary, others = _sorted(primary, scores, index), _sorted(others, scores, index)
    healthy = [c for c in primary if not is_open[c.label]]
    explored = None
    if request.priority in _LATENCY_PRIORITIES and explore_roll < explore_rate:
        explored = _explore_first(healthy, stats, streaming, notes)
    if not explicit:
        # Without a pin or hint the primary group is the first choice's provider.
        lead = (healthy or primary)[0].provider
        others = [c for c in primary if c.provider != lead]
        healthy = [c for c in healthy if c.provider == lead]
        primary = [c for c in primary if c.provider == lead]

    dropped: list[Candidate] = []
    if not request.fallback:
        dropped, others = others, []
        if dropped:
            notes.append("fallback disabled: " + ", ".join(c.label for c in dropped) + " dropped")
    last_resort = [c for c in primary + others if is_open[c.label]]
    ordered = healthy + [c for c in others if not is_open[c.label]]
    ordered = _other_provider_next(ordered, len(healthy) if explicit else 1)
    weak = _below_floor(request, ordered, quality, notes)
    if weak:
        ordered = [c for c in ordered if c.label not in weak] + [c for c in ordered if c.label in weak]
    ordered += last_resort
    if last_resort:
        notes.append("breaker open: " + ", ".join(c.label for c in last_resort) + " moved last")
    if request.priority == "low_cost" and any(c.est_cost_usd is None for c in cands):
        notes.append("unpriced ranked last: " + ", ".join(c.label for c in cands if c.est_cost_usd is None))

    reason = _reason(request.priority, ordered, describe, scores, notes)
    rejected = tuple(
        (c, scores.get(c.label), _why_not_first(c, i, is_open, weak)) for i, c in enumerate(ordered[1:], start=1)
    ) + tuple((c, scores.get(c.label), "dropped: fallback disabled") for c in dropped)
    return Ranking(tuple(ordered), reason, scores, rejected, request.priority, streaming, latencies, explored)


def _below_floor(request, ordered, quality: QualityStats | None, notes) -> set[str]:
    """Labels of the candidates the quality floor skips (none for a pinned model), noted for the reason."""
    if quality is None or request.model:
        return set()
    weak = {c.label: hit for c in ordered if (hit := quality.below(c.key, request.task)) is not None}
    if weak:
        detail = ", ".join(f"{label} lower bound {low:.2f} over {n} votes" for label, (n, low) in weak.items())
        notes.append(f"quality floor {quality.floor:.2f} for {request.task}: skipped {detail}")
    return set(weak)


def _why_not_first(c: Candidate, i: int, is_open, weak) -> str:
    if is_open[c.label]:
        return "breaker open: last resort"
    return "below quality floor" if c.label in weak else f"fallback #{i}"


def _reason(priority: str, ordered, describe, scores, notes) -> str:
    if not ordered:
        head = f"{priority}: no candidate left"
    else:
        first = ordered[0]
        head = f"{priority}: {first.label} {describe(first)}"
        runner = next((c for c in ordered[1:] if c.label != first.label), None)
        if runner is not None:
            a, b = scores.get(first.label), scores.get(runner.label)
            op = "<" if a is not None and (b is None or a < b) else ("=" if a == b else "ahead of")
            head += f" {op} {runner.label} {describe(runner)}"
    return "; ".join([head, *notes])
