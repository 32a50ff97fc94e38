"""Rate limits as GCRA, pure: requests and tokens per minute, on a clock the caller passes in.

The generic cell rate algorithm keeps one number per limit, the theoretical arrival time
(TAT): the instant at which the limit would be fully replenished. A request costing ``n``
(1 for requests, its worst-case tokens for tokens) moves the TAT ``n * window / limit``
later and is admitted if the TAT then lies at most one window ahead of now. It behaves
like a bucket holding one minute's worth that refills continuously: a full minute's worth
may arrive at once, after which the configured rate holds, and there is no window edge
at which two minutes' worth can pass in a moment, as with fixed windows.

Why not pyrate-limiter or limits: the state must later live in PostgreSQL, shared by every
gateway instance and updated in the same transaction as the budget reservation, so that a
request refused by its budget consumes no rate, and the reverse. ``limits`` has no SQL
storage at all (Redis, Memcached, MongoDB, etcd). pyrate-limiter has SQLite and PostgreSQL
buckets, but they keep one row per admitted item (a weighted item, such as a request's
tokens, becomes that many rows) and commit on their own connection: a tokens-per-minute
limit would write thousands of rows per request, outside the budget's transaction. GCRA's
single integer per limit is one row update in any SQL database, and this module is small
enough to test on an injected clock with tables.

Results carry what OpenAI-style ``x-ratelimit-*`` headers need; resets are formatted the
way OpenAI does (``1s``, ``6m0s``, ``20ms``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

WINDOW_S = 60
METRICS = ("requests", "tokens")
_NS = 1_000_000_000


@dataclass(frozen=True)
class RateLimit:
    """One limit: ``limit`` ``metric`` per minute for ``scope`` (``key:ID:requests``...)."""

    scope: str
    owner: str  # "key:NAME" or "team:NAME"
    metric: str  # "requests" | "tokens"
    limit: int


class RateDecision(NamedTuple):
    """The outcome of one GCRA step. ``tat_ns`` is the state to store (unchanged when refused).

    A named tuple, not a frozen dataclass: every admission builds one per limit."""

    allowed: bool
    tat_ns: int
    limit: int
    remaining: int
    reset_ns: int  # until the limit is fully replenished
    retry_after_ns: int | None = None  # when refused: until it would fit; None if it never can

    @property
    def reset_s(self) -> float:
        return self.reset_ns / _NS

    @property
    def retry_after(self) -> float | None:
        return None if self.retry_after_ns is None else self.retry_after_ns / _NS


def gcra(limit: int, tat_ns: int | None, cost: int, now: float, window_s: int = WINDOW_S) -> RateDecision:
    """One admission attempt of ``cost`` against ``limit`` per ``window_s`` with state ``tat_ns``.

    The state is integer nanoseconds since the epoch. Floats would not do: an epoch instant
    in a double is only good to a quarter of a microsecond, and adding the same rounded
    interval thousands of times a minute drifts by whole tokens. The interval is rounded
    down to the nanosecond, which errs by under a nanosecond per request, in the caller's favour.
    """
    window = window_s * _NS
    now_ns = int(now * _NS)
    base = now_ns if tat_ns is None or tat_ns < now_ns else tat_ns
    new_tat = base + cost * window // limit
    ahead = new_tat - now_ns
    if ahead <= window:
        return RateDecision(True, new_tat, limit, (window - ahead) * limit // window, ahead)
    remaining = max((window - (base - now_ns)) * limit // window, 0)
    retry_after = None if cost > limit else ahead - window
    return RateDecision(False, now_ns if tat_ns is None else tat_ns, limit, remaining, base - now_ns, retry_after)


def openai_duration(seconds: float) -> str:
    """``0.02`` -> ``20ms``, ``1`` -> ``1s``, ``360`` -> ``6m0s``, ``90.5`` -> ``1m30.5s``.

    Rounded up to the millisecond, so a client that waits this long is never early."""
    return _duration_ms(math.ceil(round(max(seconds, 0.0) * 1000, 6)))


def _duration_ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def tightest(decisions: Iterable[tuple[RateLimit, RateDecision]]) -> dict[str, tuple[RateLimit, RateDecision]]:
    """Per metric, the limit closest to refusing: fewest remaining, then the longest reset."""
    out: dict[str, tuple[RateLimit, RateDecision]] = {}
    for limit, d in decisions:
        best = out.get(limit.metric)
        if best is None or (d.remaining, -d.reset_ns) < (best[1].remaining, -best[1].reset_ns):
            out[limit.metric] = (limit, d)
    return out


_HEADER_NAMES = {m: (f"x-ratelimit-limit-{m}", f"x-ratelimit-remaining-{m}", f"x-ratelimit-reset-{m}") for m in METRICS}


def headers(decisions: Iterable[tuple[RateLimit, RateDecision]]) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers for the tightest limit of each metric that has one."""
    out = {}
    for metric, (_, d) in tightest(decisions).items():
        limit_name, remaining_name, reset_name = _HEADER_NAMES[metric]
        out[limit_name] = str(d.limit)
        out[remaining_name] = str(d.remaining)
        out[reset_name] = _duration_ms(-(-d.reset_ns // 1_000_000))  # ceiling
    return out


class LimitHeaders(Mapping):
    """``headers(decisions)``, formatted on first read: most Python callers never read them,
    and formatting costs about as much as a SQLite statement on every admission."""

    __slots__ = ("_decisions", "_values")

    def __init__(self, decisions: tuple[tuple[RateLimit, RateDecision], ...]):
        self._decisions = decisions
        self._values: dict[str, str] | None = None

    def _formatted(self) -> dict[str, str]:
        if self._values is None:
            self._values = headers(self._decisions)
        return self._values

    def __getitem__(self, name: str) -> str:
        return self._formatted()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._formatted())

    def __len__(self) -> int:
        return len(self._formatted())

    def __repr__(self) -> str:
        return repr(self._formatted())
