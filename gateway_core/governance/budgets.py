"""Budget arithmetic, pure: periods in UTC, money in integer quanta, admission, soft limits, forecasts.

**The rule.** A request is admitted only if ``spent + reserved + worst_case <= hard limit``
for every budget that applies to it (its team's and, when set, its key's), and the check
and the reservation are one atomic step in the store. ``settle`` then replaces the
reservation with the actual cost; a request that failed without being billed releases it.
Because every admitted request holds its worst case until it settles, the sum of settled
costs in a period cannot pass the hard limit as long as no request costs more than its
worst case, however many requests run at once and from however many processes.

**The worst case** of a request is its estimated input tokens, times a margin where the
estimate is calibrated or heuristic rather than exact, plus ``max_tokens`` of output, at
the priced model, maximised over every candidate the request may fall back to. A candidate
with no price cannot be bounded, so it may not run under a budget.

**When a provider bills more than the reservation** (a tokenizer far off its calibration,
a provider counting differently), the actual cost is still recorded in full: the ledger
never clips. That period may then end above its hard limit by at most that excess, and it
refuses every further request until it resets, because ``spent`` alone already fills it.

Money is counted in integer quanta of ``COST_QUANTUM`` (1e-10 USD, the grain the price
table rounds to), so the conditional update in SQL compares exact integers: a float sum
drifting by a rounding error must not decide whether a budget holds. A signed 64-bit
column holds over 900 million USD at this grain.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from ..pricing import COST_QUANTUM

PERIODS = ("day", "week", "month")
DEFAULT_SOFT = 0.8
# How far an input estimate may fall short, by where it came from. A tiktoken count is
# exact for the models whose tokenizer it is; a calibrated count (tiktoken times a factor
# learned from usage, for models without a public tokenizer) typically errs under 10%; the
# character heuristic can be off by a third on code or CJK text.
INPUT_MARGIN = {"tiktoken": Decimal(1), "calibrated": Decimal("1.25"), "heuristic": Decimal("1.5")}
_DEFAULT_MARGIN = Decimal("1.5")
_MARGIN_RATIO = {source: margin.as_integer_ratio() for source, margin in INPUT_MARGIN.items()}
_DEFAULT_RATIO = _DEFAULT_MARGIN.as_integer_ratio()
_DAY_S = 86_400
_QUANTUM_EXPONENT = -COST_QUANTUM.as_tuple().exponent  # 10: dividing by 1e-10 is a shift of the exponent


def to_quanta(usd: Decimal | int | float | str) -> int:
    """USD as integer quanta, rounded up: a reservation must never be smaller than the cost."""
    return int(Decimal(usd).scaleb(_QUANTUM_EXPONENT).to_integral_value(rounding=ROUND_CEILING))


def to_usd(quanta: int) -> Decimal:
    return Decimal(quanta) * COST_QUANTUM


# --- periods --------------------------------------------------------------------------------


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of the UTC ``period`` holding ``now``; ``end`` is when the budget resets.

    Weeks start on Monday, as ISO 8601 counts them."""
    day = now.astimezone(UTC).date()
    if period == "day":
        start = day
        end = day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        raise ValueError(f"unknown budget period {period!r}")
    return _midnight(start), _midnight(end)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@functools.lru_cache(maxsize=64)
def _period_on_day(period: str, day_index: int) -> tuple[str, float]:
    start, end = period_bounds(period, datetime.fromtimestamp(day_index * _DAY_S, UTC))
    return start.date().isoformat(), end.timestamp()


def period_key(period: str, epoch: float) -> tuple[str, float]:
    """``(start date as ISO text, reset instant as epoch seconds)`` of the period holding ``epoch``.

    The request path calls this on every admission, so it is cached per UTC day."""
    return _period_on_day(period, math.floor(epoch / _DAY_S))


# --- admission ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetLimit:
    """One configured hard budget. ``scope`` is the ledger key (``team:NAME`` or ``key:ID``)."""

    scope: str
    owner: str  # "team:NAME" or "key:NAME": what errors and listings name
    limit_q: int
    period: str
    soft: float = DEFAULT_SOFT

    @property
    def limit_usd(self) -> Decimal:
        return to_usd(self.limit_q)


def fits(limit_q: int, spent_q: int, reserved_q: int, need_q: int) -> bool:
    """The admission rule; the store enforces the same inequality in one conditional UPDATE."""
    return spent_q + reserved_q + need_q <= limit_q


def soft_reached(limit_q: int, spent_q: int, reserved_q: int, soft: float) -> bool:
    """Whether the budget, as it stood before this request, is at or past its soft limit.

    Reserved money counts: a long stream already in flight is spending it."""
    return spent_q + reserved_q >= soft * limit_q


# --- worst case -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorstCase:
    """The most a request can cost and the most tokens it can use, over its candidates.

    ``usd`` is None when some candidate is unpriced (``unpriced`` names them)."""

    usd: Decimal | None
    tokens: int
    unpriced: tuple[tuple[str, str], ...] = ()


def worst_case(candidates: Iterable, max_tokens: int, price_of: Callable[[str, str], object]) -> WorstCase:
    """Maximise cost and tokens over ``candidates``.

    Each candidate has ``provider``, ``priced_as`` (the model its price row bills),
    ``input_tokens`` and ``source``, as the planner's estimates do; ``price_of(provider,
    priced_as)`` returns the price row (with ``charge``) or None.

    The request path calls this on every admission, so candidates are compared by a float
    approximation of their charge and only the winner is charged exactly: charges are whole
    quanta of 1e-10 USD, so two that differ at all differ far beyond a float's error, and a
    tie is a tie either way."""
    top_tokens = 0
    unpriced = []
    best = None  # (approximate USD, price row, input tokens)
    for c in candidates:
        num, den = _MARGIN_RATIO.get(c.source, _DEFAULT_RATIO)
        input_tokens = -(-c.input_tokens * num // den)  # rounded up
        top_tokens = max(top_tokens, input_tokens + max_tokens)
        price = price_of(c.provider, c.priced_as)
        if price is None:
            unpriced.append((c.provider, c.priced_as))
            continue
        approx = input_tokens * float(price.input) + max_tokens * float(price.output)
        if best is None or approx > best[0]:
            best = (approx, price, input_tokens)
    if unpriced:
        return WorstCase(None, top_tokens, tuple(unpriced))
    usd = Decimal(0) if best is None else best[1].charge(best[2], max_tokens)
    return WorstCase(usd, top_tokens)


# --- burn-down ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands in its current period at ``as_of``, and where it is heading."""

    scope: str
    owner: str
    period: str
    limit_usd: Decimal
    soft: float
    spent_usd: Decimal
    reserved_usd: Decimal
    period_start: datetime
    resets_at: datetime
    as_of: datetime
    forecast_usd: Decimal  # spend at period end if the period's rate so far continues

    @property
    def used_fraction(self) -> float:
        committed = self.spent_usd + self.reserved_usd
        if self.limit_usd <= 0:
            return math.inf if committed > 0 else 1.0
        return float(committed / self.limit_usd)

    @property
    def soft_reached(self) -> bool:
        return self.used_fraction >= self.soft

    @property
    def exhausted_at(self) -> datetime | None:
        """When the period's average rate reaches the limit, if that is before the reset."""
        if self.spent_usd >= self.limit_usd:
            return self.as_of
        if self.forecast_usd <= self.limit_usd:
            return None
        span = (self.resets_at - self.period_start).total_seconds()
        return self.period_start + timedelta(seconds=span * float(self.limit_usd / self.forecast_usd))


def forecast(spent_usd: Decimal, start: datetime, end: datetime, now: datetime) -> Decimal:
    """Spend at ``end`` if the average rate since ``start`` continues; ``spent`` before any time passed."""
    elapsed = (now - start).total_seconds()
    span = (end - start).total_seconds()
    if elapsed <= 0 or span <= 0:
        return spent_usd
    if elapsed >= span:
        return spent_usd
    rate = spent_usd / Decimal(elapsed)
    return (spent_usd + rate * Decimal(span - elapsed)).quantize(COST_QUANTUM)
