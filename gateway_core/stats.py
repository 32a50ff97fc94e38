"""Recent-history statistics the router reads: latency per (provider, model), output length per task,
and blind-vote standing per (provider, model, task).

The latency and output trackers keep a bounded sliding window per key, are seeded from the
usage log at start, and are safe to share between threads. They sit on the request path,
so reads are cheap: percentiles are recomputed only for keys that changed since the last
snapshot, and the expected output length is a running sum. Percentiles use the
nearest-rank method on the window (p90 of 10 samples is the 9th smallest). The vote
standing (``QualityTracker``) is read from the vote table through an injected loader at
most every ``max_age_s``, and not at all while no quality floor is set; win rates carry
Wilson's interval, defined here once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str]  # (provider, model)
Z95 = 1.959963984540054


def nearest_rank(q: float, n: int) -> int:
    """The 1-based rank of the ``q`` quantile (0 < q <= 1) among ``n`` ordered values: the one
    percentile definition in the gateway, used on raw windows here and on histograms in analytics."""
    return max(1, math.ceil(q * n))


def percentile(values: Iterable[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[nearest_rank(q, len(ordered)) - 1]


def chronological(rows: Iterable[Mapping]) -> list[Mapping]:
    """Rows oldest first. The usage log hands them newest first; rows that all carry an ISO
    ``ts`` are sorted by it, anything else is taken to be in order already."""
    rows = list(rows)
    if rows and all(r.get("ts") for r in rows):
        rows.sort(key=lambda r: str(r["ts"]))
    return rows


@dataclass(frozen=True)
class RouteStats:
    """An immutable snapshot for ``rank``: p90 total latency, p90 TTFT and sample counts."""

    latency_p90: Mapping[Key, float] = field(default_factory=dict)
    ttft_p90: Mapping[Key, float] = field(default_factory=dict)
    samples: Mapping[Key, int] = field(default_factory=dict)
    ttft_samples: Mapping[Key, int] = field(default_factory=dict)

    def p90(self, key: Key, *, streaming: bool = False) -> float | None:
        return (self.ttft_p90 if streaming else self.latency_p90).get(key)

    def count(self, key: Key, *, streaming: bool = False) -> int:
        return (self.ttft_samples if streaming else self.samples).get(key, 0)


@dataclass
class _Series:
    latency: deque
    ttft: deque
    outcomes: deque  # True = ok


SNAPSHOT_MAX_AGE_S = 0.25


class LatencyTracker:
    """Sliding windows of successful-call latency and TTFT, plus outcomes, per (provider, model).

    Failed calls are kept out of the latency windows (a fast 503 is not a fast provider)
    but count in the outcome window behind the error rate in ``summary``.
    """

    def __init__(self, window: int = 200, snapshot_max_age_s: float = SNAPSHOT_MAX_AGE_S):
        self.window = window
        self.snapshot_max_age_s = snapshot_max_age_s
        self._series: dict[Key, _Series] = {}
        self._dirty: set[Key] = set()
        self._cache: dict[str, dict] = {"latency": {}, "ttft": {}, "n": {}, "n_ttft": {}}
        self._snapshot = RouteStats()
        self._snapshot_at = float("-inf")
        self._lock = threading.Lock()

    def _get(self, key: Key) -> _Series:
        s = self._series.get(key)
        if s is None:
            w = self.window
            s = self._series[key] = _Series(deque(maxlen=w), deque(maxlen=w), deque(maxlen=w))
        return s

    def _observe(self, key: Key, latency_ms, ttft_ms, ok: bool) -> None:
        s = self._get(key)
        s.outcomes.append(bool(ok))
        if ok and latency_ms is not None:
            s.latency.append(float(latency_ms))
            if ttft_ms is not None:
                s.ttft.append(float(ttft_ms))
        self._dirty.add(key)

    def observe(self, provider: str, model: str, latency_ms: float | None, ttft_ms: float | None, ok: bool) -> None:
        with self._lock:
            self._observe((provider, model), latency_ms, ttft_ms, ok)

    def seed(self, rows: Iterable[Mapping]) -> int:
        """Load past attempts: dicts with provider, model, latency_ms, ttft_ms, status (and
        optionally ts, streamed). Rows with a status other than ok/error (e.g. rejected) are
        skipped, and so is the TTFT of a row marked not streamed (it is the total latency)."""
        n = 0
        with self._lock:
            for row in chronological(rows):
                status = row.get("status")
                if status not in ("ok", "error") or not row.get("provider") or not row.get("model"):
                    continue
                ttft = row.get("ttft_ms") if row.get("streamed", True) else None
                self._observe((row["provider"], row["model"]), row.get("latency_ms"), ttft, status == "ok")
                n += 1
        return n

    def summary(self, provider: str, model: str) -> dict:
        """Health figures for one (provider, model), for the console: p50_ms, p90_ms,
        ttft_p50_ms, ttft_p90_ms, error_rate (None when unknown) and samples."""
        with self._lock:
            s = self._series.get((provider, model))
            latency, ttft = (tuple(s.latency), tuple(s.ttft)) if s else ((), ())
            outcomes = tuple(s.outcomes) if s else ()
        return {
            "p50_ms": percentile(latency, 0.5),
            "p90_ms": percentile(latency, 0.9),
            "ttft_p50_ms": percentile(ttft, 0.5),
            "ttft_p90_ms": percentile(ttft, 0.9),
            "error_rate": (1.0 - sum(outcomes) / len(outcomes)) if outcomes else None,
            "samples": len(outcomes),
        }

    def snapshot(self) -> RouteStats:
        """Per-key p90s for ``rank``. Recomputed at most every ``snapshot_max_age_s`` (a p90
        over a 200-call window barely moves in a quarter second, and sorting every window on
        every request was the largest cost of planning), or at once when a key is new."""
        with self._lock:
            now = time.monotonic()
            if self._dirty and (now - self._snapshot_at >= self.snapshot_max_age_s or not self._dirty <= self._cache["n"].keys()):
                self._snapshot_at = now
                c = self._cache
                for key in self._dirty:
                    s = self._series[key]
                    for name, values in (("latency", s.latency), ("ttft", s.ttft)):
                        p = percentile(values, 0.9)
                        if p is None:
                            c[name].pop(key, None)
                        else:
                            c[name][key] = p
                    c["n"][key] = len(s.latency)
                    c["n_ttft"][key] = len(s.ttft)
                self._dirty.clear()
                self._snapshot = RouteStats(dict(c["latency"]), dict(c["ttft"]), dict(c["n"]), dict(c["n_ttft"]))
            return self._snapshot


class OutputTokenStats:
    """Expected output tokens per task, for the pre-request cost estimate.

    The estimate is the mean of the task's recent outputs shrunk towards its default:
    ``(default × PRIOR_WEIGHT + Σ observed) / (PRIOR_WEIGHT + n)``, so one unusual answer
    does not swing routing, and a long history converges on the real mean. The mean (not
    the median) is used because expected cost is linear in tokens.
    """

    PRIOR_WEIGHT = 3

    def __init__(self, defaults: Mapping[str, int], window: int = 200, fallback: int = 256):
        self.defaults = dict(defaults)
        self.window = window
        self.fallback = fallback
        self._values: dict[str, deque] = {}
        self._sums: dict[str, int] = {}
        self._lock = threading.Lock()

    def _observe(self, task: str, tokens: int) -> None:
        values = self._values.get(task)
        if values is None:
            values = self._values[task] = deque(maxlen=self.window)
            self._sums[task] = 0
        if len(values) == values.maxlen:
            self._sums[task] -= values[0]
        values.append(tokens)
        self._sums[task] += tokens

    def observe(self, task: str, output_tokens: int) -> None:
        if output_tokens is None or output_tokens < 0:
            return
        with self._lock:
            self._observe(task, int(output_tokens))

    def seed(self, rows: Iterable[Mapping]) -> int:
        """Load past attempts: dicts with task, output_tokens and status (and optionally ts)."""
        n = 0
        with self._lock:
            for row in chronological(rows):
                tokens = row.get("output_tokens")
                if row.get("status", "ok") != "ok" or tokens is None or not row.get("task"):
                    continue
                self._observe(row["task"], int(tokens))
                n += 1
        return n

    def expected(self, task: str) -> int:
        default = self.defaults.get(task, self.fallback)
        with self._lock:
            values = self._values.get(task)
            n = len(values) if values else 0
            total = self._sums.get(task, 0)
        return max(1, round((default * self.PRIOR_WEIGHT + total) / (self.PRIOR_WEIGHT + n)))


def wilson_interval(wins: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``wins`` successes out of ``n``; (0, 1) when n is 0.

    It stays inside [0, 1] and behaves at small counts, where the normal approximation does not."""
    if n <= 0:
        return 0.0, 1.0
    p = wins / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class QualityStats:
    """A snapshot for ``rank``: the floor, the votes a model needs before it applies, and each
    (provider, model, task)'s (votes, lower bound of its win rate)."""

    floor: float
    min_votes: int = 30
    standing: Mapping[tuple[str, str, str], tuple[int, float]] = field(default_factory=dict)

    def below(self, key: Key, task: str) -> tuple[int, float] | None:
        """(votes, lower bound) when this model has enough votes for ``task`` and falls below the floor."""
        entry = self.standing.get((key[0], key[1], task))
        if entry is None or entry[0] < self.min_votes or entry[1] >= self.floor:
            return None
        return entry


class QualityTracker:
    """Vote standing for the router, reloaded through ``loader`` at most every ``max_age_s``.

    ``loader`` returns (provider, model, task, votes, wins) rows; a failing load keeps the
    last good standing (a locked or missing table must not fail a request). With ``floor``
    None the tracker is off and never loads."""

    def __init__(self, loader: Callable[[], Iterable[tuple]], floor: float | None, min_votes: int = 30, max_age_s: float = 30.0):
        self.floor = floor
        self.min_votes = min_votes
        self.max_age_s = max_age_s
        self._loader = loader
        self._snapshot: QualityStats | None = None
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Reload on the next snapshot (a vote was just recorded)."""
        self._loaded_at = float("-inf")

    def snapshot(self) -> QualityStats | None:
        if self.floor is None:
            return None
        with self._lock:
            now = time.monotonic()
            if now - self._loaded_at >= self.max_age_s:
                self._loaded_at = now
                try:
                    rows = list(self._loader())
                except Exception:  # noqa: BLE001 - keep routing on the last standing
                    rows = None
                if rows is not None or self._snapshot is None:
                    standing = {(p, m, t): (int(n), wilson_interval(int(w), int(n))[0]) for p, m, t, n, w in rows or ()}
                    self._snapshot = QualityStats(self.floor, self.min_votes, standing)
            return self._snapshot
