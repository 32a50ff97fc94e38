"""Budgets and rate limits on a real database, SQLite and PostgreSQL: admission, settlement,
crashes, restarts, burn-down."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from dbq import one, rows

from gateway_core.errors import (
    BudgetExceeded,
    ModelNotAllowed,
    RateLimitExceeded,
    ValidationError,
)
from gateway_core.governance import Governance

from .conftest import START


@pytest.fixture
def db(db_target):
    """Every test here runs on both backends."""
    return db_target


ROOT = Path(__file__).resolve().parents[2]

CENT = Decimal("0.01")


def ledger(gov, scope):
    """The budget's ledger lines as the database holds them, once this process's settles are applied."""
    gov.flush()
    found = rows(gov.store.path, "SELECT period_start, spent_q, reserved_q FROM budget_ledger WHERE scope = ?", (scope,))
    return {start: (Decimal(spent) / 10**10, Decimal(reserved) / 10**10) for start, spent, reserved in found}


# --- budgets --------------------------------------------------------------------------------


def test_admission_reserves_the_worst_case_and_settle_replaces_it_with_the_actual_cost(gov, db):
    gov.set_team("ml", budget_usd=Decimal("1"))
    _, key = gov.create_key(name="ci-bot", team="ml")
    p = gov.authenticate(key)
    a = gov.admit(p, candidates_worst_case=Decimal("0.30"), tokens=100)
    assert a.reservation_id and a.reserved_usd == Decimal("0.30") and not a.step_down
    assert ledger(gov, "team:ml") == {"2026-04-01": (0, Decimal("0.3"))}
    gov.settle(a, Decimal("0.12"))
    assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.12"), 0)}
    gov.settle(a, Decimal("0.12"))  # a second settle changes nothing
    gov.release(a)
    assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.12"), 0)}


def test_release_gives_the_whole_reservation_back(gov, db):
    gov.set_team("ml", budget_usd=Decimal("1"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    a = gov.admit(p, candidates_worst_case=Decimal("0.9"), tokens=1)
    with pytest.raises(BudgetExceeded):
        gov.admit(p, candidates_worst_case=Decimal("0.2"), tokens=1)
    gov.release(a)
    assert ledger(gov, "team:ml") == {"2026-04-01": (0, 0)}
    gov.admit(p, candidates_worst_case=Decimal("0.2"), tokens=1)


def test_refusal_names_the_budget_and_when_it_resets(gov):
    gov.set_team("ml", budget_usd=Decimal("0.50"), budget_period="month")
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.40"), tokens=1), Decimal("0.40"))
    with pytest.raises(BudgetExceeded) as e:
        gov.admit(p, candidates_worst_case=Decimal("0.11"), tokens=1)
    err = e.value
    assert (err.status, err.code, err.budget) == (429, "budget_exceeded", "team:ml")
    assert err.resets_at == datetime(2026, 5, 1, tzinfo=UTC)
    assert err.retry_after == pytest.approx(datetime(2026, 5, 1, tzinfo=UTC).timestamp() - START)
    assert "team 'ml'" in err.message and "$0.50 per month" in err.message and "2026-05-01T00:00:00Z" in err.message


def test_the_key_budget_and_the_team_budget_must_both_fit(gov, db):
    gov.set_team("ml", budget_usd=Decimal("10"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml", budget_usd="0.05", budget_period="day")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.04"), tokens=1), Decimal("0.04"))
    with pytest.raises(BudgetExceeded) as e:
        gov.admit(p, candidates_worst_case=Decimal("0.02"), tokens=1)
    assert e.value.budget == "key:ci-bot"
    assert e.value.resets_at == datetime(2026, 4, 16, tzinfo=UTC)
    # The team's share of the refused request was rolled back with it.
    assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.04"), 0)}


def test_a_new_period_starts_with_the_whole_budget_and_keeps_the_old_one(gov, db, clock):
    gov.set_team("ml", budget_usd=Decimal("0.10"), budget_period="day")
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.10"), tokens=1), Decimal("0.10"))
    with pytest.raises(BudgetExceeded):
        gov.admit(p, candidates_worst_case=CENT, tokens=1)
    clock.advance(12 * 3600)  # midnight UTC
    gov.settle(gov.admit(p, candidates_worst_case=CENT, tokens=1), CENT)
    assert ledger(gov, "team:ml") == {"2026-04-15": (Decimal("0.1"), 0), "2026-04-16": (CENT, 0)}


def test_a_bill_above_its_reservation_is_recorded_in_full_and_the_period_then_refuses(gov, db):
    gov.set_team("ml", budget_usd=Decimal("1"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.90"), tokens=1), Decimal("1.05"))
    assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("1.05"), 0)}
    with pytest.raises(BudgetExceeded):
        gov.admit(p, candidates_worst_case=Decimal(0), tokens=1)


def test_an_unknown_cost_settles_at_the_reserved_worst_case(gov, db):
    gov.set_team("ml", budget_usd=Decimal("1"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.25"), tokens=1), None)
    assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.25"), 0)}


def test_under_a_budget_a_request_whose_cost_cannot_be_bounded_is_refused(gov):
    gov.set_team("ml", budget_usd=Decimal("1"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    with pytest.raises(ModelNotAllowed) as e:
        gov.admit(p, candidates_worst_case=None, tokens=1)
    assert e.value.status == 403
    free = gov.authenticate(gov.create_key(name="free", team="open")[1])
    assert gov.admit(free, candidates_worst_case=None, tokens=1).reservation_id is None


def test_the_soft_limit_signals_a_step_down_with_a_reason(gov):
    gov.set_team("ml", budget_usd=Decimal("1"), soft=0.8)
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.79"), tokens=1), Decimal("0.79"))
    below = gov.admit(p, candidates_worst_case=CENT, tokens=1)
    assert not below.step_down and below.reason is None
    gov.settle(below, CENT)  # 0.80 spent: at the soft limit
    at = gov.admit(p, candidates_worst_case=CENT, tokens=1)
    assert at.step_down
    assert "team 'ml'" in at.reason and "80%" in at.reason and "cheapest" in at.reason


def test_a_reservation_abandoned_by_a_dead_process_is_charged_at_its_worst_case_after_its_ttl(db, clock):
    with Governance.open(db, clock=clock, reservation_ttl_s=600) as gov:
        gov.set_team("ml", budget_usd=Decimal("1"))
        p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
        stuck = gov.admit(p, candidates_worst_case=Decimal("0.8"), tokens=1)  # its process "dies"
    with Governance.open(db, clock=clock, reservation_ttl_s=600) as gov:  # a restart
        p = gov.principal_for("ci-bot")
        clock.advance(599)
        with pytest.raises(BudgetExceeded):
            gov.admit(p, candidates_worst_case=Decimal("0.3"), tokens=1)
        assert ledger(gov, "team:ml") == {"2026-04-01": (0, Decimal("0.8"))}
        clock.advance(6)  # past the TTL and the next sweep (every 5 s): held becomes spent
        with pytest.raises(BudgetExceeded):
            gov.admit(p, candidates_worst_case=Decimal("0.3"), tokens=1)
        assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.8"), 0)}
        gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.2"), tokens=1), Decimal("0.2"))
        gov.settle(stuck, Decimal("0.1"))  # it was alive after all: the charge becomes its actual cost
        assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.3"), 0)}
        gov.settle(stuck, Decimal("0.1"))
        assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.3"), 0)}


def test_a_settle_is_seen_by_the_next_admission_at_once_and_applied_in_the_background(gov, db):
    gov.set_team("ml", budget_usd=Decimal("1"))
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.6"), tokens=1), Decimal("0.1"))
    second = gov.admit(p, candidates_worst_case=Decimal("0.6"), tokens=1)  # fits only after the settle
    gov.settle(second, Decimal("0.2"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # nobody flushes: the background thread must
        row = one(db, "SELECT spent_q, reserved_q FROM budget_ledger WHERE scope = 'team:ml'")
        if row == (3 * 10**9, 0):
            break
        time.sleep(0.02)
    assert row == (3 * 10**9, 0)


_CRASH = """
import os, sys
from decimal import Decimal
from gateway_core.governance import Governance
gov = Governance.open(sys.argv[1], clock=lambda: float(sys.argv[2]))
p = gov.principal_for("ci-bot")
gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.5"), tokens=1), Decimal("0.01"))
os._exit(0)  # killed before the queued settle was applied
"""


def test_a_settle_lost_in_a_crash_is_charged_at_the_worst_case_never_undercounted(db, clock):
    with Governance.open(db, clock=clock) as gov:
        gov.set_team("ml", budget_usd=Decimal("1"))
        gov.create_key(name="ci-bot", team="ml")
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, str(db), str(clock.now)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    with Governance.open(db, clock=clock) as gov:
        assert ledger(gov, "team:ml") == {"2026-04-01": (0, Decimal("0.5"))}
        clock.advance(gov.reservation_ttl_s + 10)
        assert gov.sweep() == 1
        assert ledger(gov, "team:ml") == {"2026-04-01": (Decimal("0.5"), 0)}


def test_budgets_spend_and_reservations_survive_a_restart(db, clock):
    with Governance.open(db, clock=clock) as gov:
        gov.set_team("ml", budget_usd=Decimal("1"))
        _, key = gov.create_key(name="ci-bot", team="ml")
        p = gov.authenticate(key)
        gov.settle(gov.admit(p, candidates_worst_case=Decimal("0.5"), tokens=1), Decimal("0.5"))
        held = gov.admit(p, candidates_worst_case=Decimal("0.3"), tokens=1)
    with Governance.open(db, clock=clock) as gov:
        p = gov.authenticate(key)
        assert gov.teams()[0].budget_usd == Decimal("1")
        with pytest.raises(BudgetExceeded):
            gov.admit(p, candidates_worst_case=Decimal("0.21"), tokens=1)
        gov.settle(held, Decimal("0.2"))
        status = gov.burn_down("ml")
        assert (status.spent_usd, status.reserved_usd) == (Decimal("0.7"), 0)


# --- rate limits ----------------------------------------------------------------------------


def test_requests_per_minute_refuse_with_retry_after_and_headers(gov, clock):
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml", rpm=3)[1])
    first = gov.admit(p, candidates_worst_case=None, tokens=50)
    assert first.headers == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "20s",
    }
    gov.admit(p, candidates_worst_case=None, tokens=50)
    gov.admit(p, candidates_worst_case=None, tokens=50)
    clock.advance(5)
    with pytest.raises(RateLimitExceeded) as e:
        gov.admit(p, candidates_worst_case=None, tokens=50)
    err = e.value
    assert (err.status, err.code, err.limit) == (429, "rate_limited", "key:ci-bot:requests")
    assert err.retry_after == pytest.approx(15)
    assert err.headers["x-ratelimit-remaining-requests"] == "0"
    assert err.headers["x-ratelimit-reset-requests"] == "55s"
    clock.advance(15)
    gov.admit(p, candidates_worst_case=None, tokens=50)


def test_tokens_per_minute_of_the_team_are_shared_by_its_keys(gov):
    gov.set_team("ml", tpm=1000)
    a = gov.authenticate(gov.create_key(name="a", team="ml")[1])
    b = gov.authenticate(gov.create_key(name="b", team="ml")[1])
    gov.admit(a, candidates_worst_case=None, tokens=600)
    with pytest.raises(RateLimitExceeded) as e:
        gov.admit(b, candidates_worst_case=None, tokens=600)
    assert e.value.limit == "team:ml:tokens" and e.value.retry_after == pytest.approx(12)
    with pytest.raises(RateLimitExceeded) as e:
        gov.admit(b, candidates_worst_case=None, tokens=1001)
    assert e.value.retry_after is None and "alone" in e.value.message


def test_a_request_refused_by_its_budget_consumes_no_rate_and_the_reverse(gov, db):
    gov.set_team("ml", budget_usd=Decimal("0.05"), rpm=2)
    p = gov.authenticate(gov.create_key(name="ci-bot", team="ml")[1])
    for _ in range(5):
        with pytest.raises(BudgetExceeded):
            gov.admit(p, candidates_worst_case=Decimal("0.06"), tokens=1)
    a = gov.admit(p, candidates_worst_case=Decimal("0.01"), tokens=1)
    gov.admit(p, candidates_worst_case=Decimal("0.01"), tokens=1)  # the rpm was untouched by refusals
    with pytest.raises(RateLimitExceeded):
        gov.admit(p, candidates_worst_case=Decimal("0.01"), tokens=1)
    assert ledger(gov, "team:ml") == {"2026-04-01": (0, Decimal("0.02"))}  # the refused one reserved nothing
    gov.settle(a, CENT)


# --- visibility ---------------------------------------------------------------------------


def test_burn_down_forecasts_the_period_end_and_near_limits_lists_the_fullest_first(gov, clock):
    gov.set_team("ml", budget_usd=Decimal("30"), budget_period="month")
    gov.set_team("web", budget_usd=Decimal("10"), budget_period="month", soft=0.5)
    gov.set_team("quiet", budget_usd=Decimal("10"))
    ml = gov.authenticate(gov.create_key(name="ml-bot", team="ml")[1])
    web = gov.authenticate(gov.create_key(name="web-bot", team="web", budget_usd="1", budget_period="day", soft=0.5)[1])
    gov.settle(gov.admit(ml, candidates_worst_case=Decimal("14"), tokens=1), Decimal("14"))
    gov.settle(gov.admit(web, candidates_worst_case=Decimal("0.6"), tokens=1), Decimal("0.6"))
    status = gov.burn_down("ml")
    # 14.5 of 30 days gone: 14 USD projects to about 29 USD by the reset.
    assert status.spent_usd == Decimal("14") and status.resets_at == datetime(2026, 5, 1, tzinfo=UTC)
    assert status.forecast_usd == pytest.approx(Decimal("14") * 30 / Decimal("14.5"), abs=Decimal("0.0001"))
    assert status.exhausted_at is None
    near = gov.near_limits()
    assert [(s.owner, round(s.used_fraction, 2)) for s in near] == [("key:web-bot", 0.6)]
    clock.advance(3600)
    gov.settle(gov.admit(ml, candidates_worst_case=Decimal("11"), tokens=1), Decimal("11"))
    assert [s.owner for s in gov.near_limits()] == ["team:ml", "key:web-bot"]
    with pytest.raises(ValidationError):
        gov.burn_down("nobody")
