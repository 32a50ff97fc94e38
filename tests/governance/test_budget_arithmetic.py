"""Budget arithmetic as tables: UTC periods and resets, exact money, admission, soft limits, worst case, forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from decimal import Decimal

import pytest

from gateway_core.governance.budgets import (
    BudgetStatus,
    fits,
    forecast,
    period_bounds,
    period_key,
    soft_reached,
    to_quanta,
    to_usd,
    worst_case,
)
from gateway_core.pricing import PriceTable


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "period, now, start, reset",
    [
        ("day", utc(2026, 3, 14, 15, 9), utc(2026, 3, 14), utc(2026, 3, 15)),
        ("day", utc(2026, 12, 31, 23, 59, 59), utc(2026, 12, 31), utc(2027, 1, 1)),
        ("day", utc(2026, 3, 15), utc(2026, 3, 15), utc(2026, 3, 16)),  # midnight belongs to the new day
        ("week", utc(2026, 3, 14, 12), utc(2026, 3, 9), utc(2026, 3, 16)),  # a Saturday: week began Monday
        ("week", utc(2026, 3, 16), utc(2026, 3, 16), utc(2026, 3, 23)),  # Monday midnight starts a week
        ("week", utc(2026, 3, 15, 23, 59), utc(2026, 3, 9), utc(2026, 3, 16)),  # Sunday night still the old week
        ("week", utc(2026, 12, 31), utc(2026, 12, 28), utc(2027, 1, 4)),  # a week spanning New Year
        ("month", utc(2026, 3, 14), utc(2026, 3, 1), utc(2026, 4, 1)),
        ("month", utc(2026, 12, 5), utc(2026, 12, 1), utc(2027, 1, 1)),
        ("month", utc(2028, 2, 29, 23), utc(2028, 2, 1), utc(2028, 3, 1)),  # leap day
        ("month", utc(2026, 1, 31, 23, 59, 59), utc(2026, 1, 1), utc(2026, 2, 1)),
    ],
)
def test_budget_periods_are_utc_calendar_periods_with_their_reset(period, now, start, reset):
    assert period_bounds(period, now) == (start, reset)
    assert period_key(period, now.timestamp()) == (start.date().isoformat(), reset.timestamp())


def test_period_of_a_local_time_is_taken_in_utc():
    from datetime import timedelta

    tokyo = timezone(timedelta(hours=9))
    # 2026-04-01 08:00 in Tokyo is still 31 March in UTC: the March budget pays.
    assert period_bounds("month", datetime(2026, 4, 1, 8, tzinfo=tokyo)) == (utc(2026, 3, 1), utc(2026, 4, 1))


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError):
        period_bounds("fortnight", utc(2026, 1, 1))


@pytest.mark.parametrize(
    "usd, quanta",
    [
        (Decimal("1"), 10_000_000_000),
        (Decimal("0.0000000001"), 1),
        (Decimal("0.00000000001"), 1),  # below the quantum rounds up: a reservation never undercounts
        (Decimal("0"), 0),
        (Decimal("123.4567891234"), 1_234_567_891_234),
    ],
)
def test_money_is_counted_in_exact_quanta_rounded_up(usd, quanta):
    assert to_quanta(usd) == quanta
    assert to_usd(quanta) >= usd


@pytest.mark.parametrize(
    "limit, spent, reserved, need, admitted",
    [
        (100, 0, 0, 100, True),  # exactly the limit fits
        (100, 0, 0, 101, False),
        (100, 60, 30, 10, True),
        (100, 60, 30, 11, False),  # money held by requests in flight counts
        (100, 100, 0, 0, True),  # a free request still fits a full budget
        (100, 120, 0, 0, False),  # a period overshot by an under-reserved bill refuses everything
        (0, 0, 0, 1, False),
    ],
)
def test_a_request_fits_only_if_spent_plus_reserved_plus_its_worst_case_is_within_the_limit(
    limit, spent, reserved, need, admitted
):
    assert fits(limit, spent, reserved, need) is admitted


@pytest.mark.parametrize(
    "limit, spent, reserved, soft, reached",
    [
        (100, 79, 0, 0.8, False),
        (100, 80, 0, 0.8, True),
        (100, 50, 30, 0.8, True),  # in-flight reservations count towards the soft limit
        (100, 89, 0, 0.9, False),
        (100, 100, 0, 1.0, True),
    ],
)
def test_soft_limit_signal_uses_spent_and_reserved_before_the_request(limit, spent, reserved, soft, reached):
    assert soft_reached(limit, spent, reserved, soft) is reached


@dataclass
class Est:
    """The fields of a planner estimate that the worst case reads."""

    provider: str
    priced_as: str
    input_tokens: int
    source: str


PRICES = PriceTable.load()
MINI = ("azure", "gpt-4o-mini")
HAIKU = ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")
SONNET = ("bedrock", "anthropic.claude-3-sonnet-20240229-v1:0")


def price_of(provider, model):
    return PRICES.lookup(provider, model)


def test_worst_case_is_exact_input_plus_max_tokens_at_the_priced_model():
    wc = worst_case([Est(*MINI, 1000, "tiktoken")], 500, price_of)
    assert wc.usd == PRICES.lookup(*MINI).charge(1000, 500)
    assert wc.tokens == 1500


def test_calibrated_and_heuristic_estimates_get_a_margin():
    p = PRICES.lookup(*HAIKU)
    assert worst_case([Est(*HAIKU, 1000, "calibrated")], 100, price_of).usd == p.charge(1250, 100)
    assert worst_case([Est(*HAIKU, 1000, "heuristic")], 100, price_of).usd == p.charge(1500, 100)
    assert worst_case([Est(*HAIKU, 1000, "calibrated")], 100, price_of).tokens == 1350


def test_worst_case_is_the_most_expensive_candidate_the_request_may_fall_back_to():
    cands = [Est(*MINI, 2000, "tiktoken"), Est(*SONNET, 1800, "calibrated"), Est(*HAIKU, 1800, "calibrated")]
    wc = worst_case(cands, 400, price_of)
    sonnet = PRICES.lookup(*SONNET).charge(2250, 400)
    assert wc.usd == sonnet
    assert sonnet > PRICES.lookup(*MINI).charge(2000, 400)
    assert wc.tokens == 2250 + 400


def test_the_worst_case_is_the_exact_maximum_over_every_priced_row_and_size():
    import random

    rng = random.Random(7)
    rows = [(p.provider, p.model) for p in PRICES.rows()]
    sources = ("tiktoken", "calibrated", "heuristic", "unknown")
    for _ in range(500):
        cands = [Est(*rng.choice(rows), rng.randint(0, 200_000), rng.choice(sources)) for _ in range(rng.randint(1, 6))]
        max_tokens = rng.randint(1, 16_384)
        margin = {"tiktoken": Decimal(1), "calibrated": Decimal("1.25")}
        exact = max(
            price_of(c.provider, c.priced_as).charge(
                int((c.input_tokens * margin.get(c.source, Decimal("1.5"))).to_integral_value(rounding="ROUND_CEILING")),
                max_tokens,
            )
            for c in cands
        )
        assert worst_case(cands, max_tokens, price_of).usd == exact


def test_an_unpriced_candidate_makes_the_worst_case_unknown_and_is_named():
    wc = worst_case([Est(*MINI, 10, "tiktoken"), Est("azure", "my-custom-finetune", 10, "tiktoken")], 10, price_of)
    assert wc.usd is None
    assert wc.unpriced == (("azure", "my-custom-finetune"),)


@pytest.mark.parametrize(
    "spent, now, expected",
    [
        (Decimal("10"), utc(2026, 4, 16), Decimal("20")),  # half of a 30-day month gone: double
        (Decimal("10"), utc(2026, 4, 1), Decimal("10")),  # nothing elapsed: no rate to project
        (Decimal("0"), utc(2026, 4, 20), Decimal("0")),
        (Decimal("3"), utc(2026, 4, 11), Decimal("9")),  # a third gone: triple
    ],
)
def test_forecast_projects_the_period_rate_to_its_end(spent, now, expected):
    start, end = utc(2026, 4, 1), utc(2026, 5, 1)
    assert forecast(spent, start, end, now) == expected


def _status(spent, forecast_usd, limit="100", reserved="0"):
    return BudgetStatus(
        "team:a",
        "team:a",
        "month",
        Decimal(limit),
        0.8,
        Decimal(spent),
        Decimal(reserved),
        utc(2026, 4, 1),
        utc(2026, 5, 1),
        utc(2026, 4, 16),
        Decimal(forecast_usd),
    )


def test_status_says_when_the_current_rate_runs_out_of_budget():
    assert _status("50", "100").exhausted_at is None  # lands exactly on the limit
    assert _status("60", "120").exhausted_at == utc(2026, 4, 26)  # 100/120 of a 30-day month
    assert _status("100", "200").exhausted_at == utc(2026, 4, 16)  # already spent: now
    assert _status("70", "140", reserved="10").used_fraction == pytest.approx(0.8)
    assert _status("70", "140", reserved="10").soft_reached
    assert not _status("70", "140").soft_reached
