"""Governance through the Python API: ``Gateway.generate(req, key=...)`` against the emulators.

Every test runs a real Gateway in demo mode on the zero-latency emulators, with its
governance on a clock the test moves, and reads the usage log and the budget ledger from
the SQLite file itself.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from gateway_core import GatewayError
from gateway_core.errors import AuthenticationError, BudgetExceeded, ModelNotAllowed, RateLimitExceeded
from gateway_core.governance import Governance

from .gateway_support import (
    MAX_TOKENS,
    attempt_rows,
    governed_gateway,
    ledger,
    rejected_rows,
    request,
    worst_case_usd,
)

MINI = "gpt-4o-mini"


@pytest.fixture
def gw(db, clock):
    g = governed_gateway(db, clock)
    yield g
    g.close()


def test_rows_name_the_key_and_team_and_a_request_without_a_key_runs_as_the_default_team(gw):
    gw.governance.create_key(name="ci-bot", team="platform")
    keyed = gw.generate(request(), key="ci-bot")
    anonymous = gw.generate(request())
    assert (keyed.key_name, keyed.team) == ("ci-bot", "platform")
    assert (anonymous.key_name, anonymous.team) == (None, "default")
    by_request = {r["request_id"]: (r["key_name"], r["team"]) for r in attempt_rows(gw)}
    assert by_request == {keyed.request_id: ("ci-bot", "platform"), anonymous.request_id: (None, "default")}


def test_a_key_outside_its_allow_list_is_refused_before_any_call_and_logged_as_rejected(gw):
    gw.governance.create_key(name="mini-only", team="web", models=[MINI])
    with pytest.raises(ModelNotAllowed) as refused:
        gw.generate(request(model="gpt-4o"), key="mini-only")
    assert refused.value.status == 403 and refused.value.code == "model_not_allowed"
    served = gw.generate(request(), key="mini-only")  # unpinned: routed inside the allow-list
    assert served.model == MINI
    assert [r["request_id"] for r in attempt_rows(gw)] == [served.request_id]
    (row,) = rejected_rows(gw)
    key_id = gw.governance.store.key_by_name("mini-only").key_id
    assert (row["error_type"], row["field"], row["key_id"], row["team"]) == ("model_not_allowed", "model", key_id, "web")
    assert row["source"] == "python"
    assert set(row) == {"id", "ts", "request_id", "source", "field", "error_type", "user", "team", "key_id"}  # no content


def test_an_unknown_or_revoked_key_name_is_refused_with_the_reason(gw, db, clock):
    with pytest.raises(AuthenticationError) as unknown:
        gw.generate(request(), key="nobody")
    assert unknown.value.code == "invalid_api_key"
    gw.governance.create_key(name="temp", team="web", rpm=100)
    gw.generate(request(), key="temp")
    # Revoked from elsewhere (the CLI, another instance): the very next request is refused.
    with Governance.open(db, clock=clock) as other:
        other.revoke_key("temp", "rotated")
    with pytest.raises(AuthenticationError) as revoked:
        gw.generate(request(), key="temp")
    assert revoked.value.code == "key_revoked" and "rotated" in revoked.value.message
    assert {r["error_type"] for r in rejected_rows(gw)} == {"authentication_error"}


def test_an_expired_key_is_refused_once_its_time_comes(gw, clock):
    gw.governance.create_key(name="short", team="web", expires_at=clock.now + 60)
    assert gw.generate(request(), key="short").key_name == "short"
    clock.advance(61)
    with pytest.raises(AuthenticationError) as expired:
        gw.generate(request(), key="short")
    assert expired.value.code == "key_expired"


def test_the_key_argument_must_be_a_name_or_a_principal(gw):
    with pytest.raises(GatewayError) as bad:
        gw.generate(request(), key=42)
    assert bad.value.field == "key"


def test_requests_per_minute_hold_on_the_injected_clock_and_say_what_is_left(gw, clock):
    gw.governance.create_key(name="slow", team="web", rpm=3)
    remaining = [gw.generate(request(), key="slow").headers["x-ratelimit-remaining-requests"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    with pytest.raises(RateLimitExceeded) as limited:
        gw.generate(request(), key="slow")
    assert limited.value.code == "rate_limited" and limited.value.retry_after == pytest.approx(20, abs=0.01)
    assert limited.value.headers["x-ratelimit-limit-requests"] == "3"
    clock.advance(20)  # one request's worth (60 s / 3) has come back
    assert gw.generate(request(), key="slow").headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(RateLimitExceeded):
        gw.generate(request(), key="slow")
    assert len(rejected_rows(gw, "error_type = 'rate_limited'")) == 2


def test_tokens_per_minute_count_the_worst_case_and_refill_over_the_minute(gw, clock):
    tokens = 160  # one request's worst case is under 160 tokens (max_tokens 64 plus the prompt)
    gw.governance.create_key(name="tpm", team="web", tpm=tokens * 2)
    first = gw.generate(request(), key="tpm")
    gw.generate(request(), key="tpm")
    assert int(first.headers["x-ratelimit-remaining-tokens"]) >= tokens
    with pytest.raises(RateLimitExceeded) as limited:
        for _ in range(3):
            gw.generate(request(), key="tpm")
    assert "tokens" in limited.value.limit
    clock.advance(60)
    assert gw.generate(request(), key="tpm").headers["x-ratelimit-limit-tokens"] == str(tokens * 2)


def test_a_hard_budget_holds_under_64_parallel_requests(gw, db):
    budget = worst_case_usd(gw, request(), (MINI,)) * 10 + Decimal("0.000001")  # about ten fit at once
    gw.governance.set_team("tight", budget_usd=budget)
    gw.governance.create_key(name="tight-key", team="tight", models=[MINI])
    barrier = threading.Barrier(64)
    outcomes: list = [None] * 64

    def one(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = gw.generate(request(), key="tight-key")
        except GatewayError as e:
            outcomes[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served = [o for o in outcomes if not isinstance(o, GatewayError)]
    refused = [o for o in outcomes if isinstance(o, GatewayError)]
    assert len(served) >= 10
    assert all(isinstance(e, BudgetExceeded) and e.code == "budget_exceeded" for e in refused)
    gw.governance.flush()
    spent, reserved = ledger(db, "team:tight")
    assert reserved == 0
    assert spent <= budget
    assert spent == sum(r.cost_usd for r in served)
    rows = attempt_rows(gw)
    assert len(rows) == sum(len(r.attempts) for r in served)  # rows = attempts, refusals are not attempts
    assert len(rejected_rows(gw, "error_type = 'budget_exceeded'")) == len(refused)


def test_a_refusal_names_the_budget_and_when_it_resets(gw, clock):
    worst = worst_case_usd(gw, request())
    gw.governance.set_team("small", budget_usd=worst / 2)
    gw.governance.create_key(name="small-key", team="small")
    with pytest.raises(BudgetExceeded) as refused:
        gw.generate(request(), key="small-key")
    assert refused.value.budget == "team:small"
    assert refused.value.resets_at.isoformat().startswith("2026-05-01T00:00:00")  # the clock is in April
    assert "team 'small'" in refused.value.message and "2026-05-01T00:00:00Z" in refused.value.message


def test_past_the_soft_limit_the_request_steps_down_to_the_cheapest_model_and_says_so(gw, db):
    worst = worst_case_usd(gw, request())
    budget = worst * 8  # the soft limit (6.4 worst cases) comes well before the hard one
    gw.governance.set_team("ml", budget_usd=budget, soft=0.8)
    gw.governance.create_key(name="ml-key", team="ml")
    history = []
    for _ in range(400):
        gw.governance.flush()
        spent, _ = ledger(db, "team:ml")
        if spent + worst > budget:
            break
        r = gw.generate(request(provider_hint="bedrock"), key="ml-key")  # the hint asks for a pricier provider
        history.append((spent, r))
    before = [r for spent, r in history if spent < budget * Decimal("0.8")]
    after = [r for spent, r in history if spent >= budget * Decimal("0.8")]
    assert before and after
    assert all(r.provider == "bedrock" and "x-gateway-budget" not in r.headers for r in before)
    for r in after:
        assert r.model == MINI  # the cheapest configured model
        assert "stepped down to the cheapest allowed model" in r.route_reason
        assert r.headers["x-gateway-budget"].startswith("soft-limit; team 'ml' budget at ")
    logged = {row["request_id"]: row["route_reason"] for row in attempt_rows(gw)}
    assert "soft limit 80%" in logged[after[0].request_id]


def test_a_request_that_fails_everywhere_releases_its_reservation(gw, db):
    gw.governance.set_team("ops", budget_usd=Decimal("1"))
    gw.governance.create_key(name="ops-key", team="ops")
    for emulator in gw.emulators.running().values():
        emulator.set_faults(status=503)
    with pytest.raises(GatewayError):
        gw.generate(request(), key="ops-key")
    gw.governance.flush()
    assert ledger(db, "team:ops") == (0, 0)


def test_an_abandoned_stream_settles_to_what_its_rows_say_was_billed(gw, db):
    gw.governance.set_team("ops", budget_usd=Decimal("1"))
    gw.governance.create_key(name="ops-key", team="ops")
    stream = gw.stream(request(prompt="Write a long story about storage."), key="ops-key")
    pieces = iter(stream)
    next(pieces)
    assert stream.headers == {}  # a budget alone sends no rate-limit news
    pieces.close()  # the caller walks away mid-stream
    finished = gw.stream(request(), key="ops-key")
    assert "".join(finished)
    gw.governance.flush()
    spent, reserved = ledger(db, "team:ops")
    assert reserved == 0
    logged = [r["cost_usd"] for r in attempt_rows(gw) if r["cost_usd"] is not None]
    assert float(spent) == pytest.approx(sum(logged), abs=1e-12)
    assert spent >= finished.result.cost_usd


def test_budgets_and_spend_survive_a_restart(db, clock):
    worst = None
    with governed_gateway(db, clock) as first:
        worst = worst_case_usd(first, request())
        first.governance.set_team("ml", budget_usd=worst * 3)
        first.governance.create_key(name="ml-key", team="ml")
        served = [first.generate(request(), key="ml-key") for _ in range(2)]
    spent_before = sum(r.cost_usd for r in served)
    with governed_gateway(db, clock) as second:
        status = second.governance.burn_down("ml")
        assert status.spent_usd == spent_before and status.limit_usd == worst * 3
        while True:  # spend the rest: the limit still counts what the first process spent
            try:
                second.generate(request(), key="ml-key")
            except BudgetExceeded:
                break
        assert second.governance.burn_down("ml").spent_usd <= worst * 3


def test_compare_runs_each_side_under_the_key(gw):
    gw.governance.create_key(name="cmp", team="eval", rpm=10)
    results = gw.compare(request(), key="cmp")
    assert [r.key_name for r in results] == ["cmp", "cmp"]
    assert {r["key_name"] for r in attempt_rows(gw)} == {"cmp"}


def test_max_tokens_beyond_the_reservation_is_what_is_reserved(gw):
    assert worst_case_usd(gw, request(max_tokens=MAX_TOKENS * 4)) > worst_case_usd(gw, request())
