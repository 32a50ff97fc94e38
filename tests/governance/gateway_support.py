"""Helpers for driving governance through a whole Gateway: demo mode, zero-latency emulators."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from gateway_fixtures import demo_env, log_rows

from gateway_core import Gateway, GenerateRequest, Settings, planning
from gateway_core.governance import Governance, worst_case

PROMPT = "Summarise the quarterly storage review in two sentences."
MAX_TOKENS = 64
QUANTUM = Decimal("1e-10")


def governed_gateway(db, clock, **env) -> Gateway:
    """A demo gateway whose governance runs on ``clock`` (epoch seconds the test moves)."""
    settings = Settings.from_mapping(demo_env(db, **env))
    return Gateway(settings, governance=Governance.open(db, clock=clock, static_keys=settings.api_key_values()))


def request(**kw) -> GenerateRequest:
    return GenerateRequest(prompt=kw.pop("prompt", PROMPT), max_tokens=kw.pop("max_tokens", MAX_TOKENS), **kw)


def worst_case_usd(gw: Gateway, req: GenerateRequest, models: tuple[str, ...] | None = None) -> Decimal:
    """What the gateway reserves for ``req`` when it may run on ``models`` (default: every one)."""
    plan = planning.build_plan(gw.runtime, req, streaming=False)
    estimates = [e for (_, model), e in plan.estimates.items() if models is None or model in models]
    return worst_case(estimates, plan.max_tokens, gw.prices.lookup).usd


def ledger(db, scope: str) -> tuple[Decimal, Decimal]:
    """(spent, reserved) in USD summed over every period of one budget."""
    with sqlite3.connect(db) as con:
        spent, reserved = con.execute(
            "SELECT coalesce(SUM(spent_q), 0), coalesce(SUM(reserved_q), 0) FROM budget_ledger WHERE scope = ?", (scope,)
        ).fetchone()
    return Decimal(spent) * QUANTUM, Decimal(reserved) * QUANTUM


def rows(gw: Gateway, where: str = "1=1") -> list[dict]:
    gw.usage_log.flush()
    return log_rows(gw.usage_log.path, where)


def attempt_rows(gw: Gateway, where: str = "1=1") -> list[dict]:
    """``usage_logs``: provider attempts only."""
    return rows(gw, where)


def rejected_rows(gw: Gateway, where: str = "1=1", *, key: str | None = None) -> list[dict]:
    """``rejected_requests``, optionally of the key named ``key`` (rows hold its public id)."""
    if key is not None:
        record = gw.governance.store.key_by_name(key)
        where = f"key_id = '{record.key_id}' AND ({where})"
    gw.usage_log.flush()
    return log_rows(gw.usage_log.path, where, table="rejected_requests")
