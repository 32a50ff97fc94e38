"""Under concurrency a hard budget holds: 64 requests race for a budget that fits 10 worst cases.

Every request reserves its worst case before it may run, atomically with the check, so the
settled spend cannot pass the budget and every request that does not fit is refused with
``budget_exceeded``, whether the requests come from threads of one process or from several
processes sharing the SQLite file.
"""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
import threading
from decimal import Decimal

from gateway_core.governance import Governance

from .gov_workers import BARRIER_TIMEOUT_S, race, race_in_process

WORST = Decimal("0.0123")
BUDGET = WORST * 10  # fits exactly ten worst cases
REQUESTS = 64


def _setup(db) -> None:
    with Governance.open(db) as gov:
        gov.set_team("ml", budget_usd=BUDGET, budget_period="month")
        gov.create_key(name="shared", team="ml")


def _ledger(db) -> tuple[Decimal, Decimal]:
    with sqlite3.connect(db) as con:
        spent, reserved = con.execute(
            "SELECT SUM(spent_q), SUM(reserved_q) FROM budget_ledger WHERE scope = 'team:ml'"
        ).fetchone()
    return Decimal(spent) / 10**10, Decimal(reserved) / 10**10


def _check(db, outcomes: list[tuple], *, exactly_admitted: int | None) -> None:
    assert len(outcomes) == REQUESTS
    errors = [o for o in outcomes if o[0] == "error"]
    assert errors == []
    admitted = [Decimal(detail) for kind, detail in outcomes if kind == "admitted"]
    refused = [detail for kind, detail in outcomes if kind == "refused"]
    assert set(refused) <= {"budget_exceeded"}
    assert len(admitted) + len(refused) == REQUESTS
    if exactly_admitted is not None:
        assert len(admitted) == exactly_admitted
    else:
        assert len(admitted) >= 10  # the budget was usable, not refused wholesale
    spent, reserved = _ledger(db)
    assert spent == sum(admitted)  # the ledger is exactly the settled costs
    assert reserved == 0
    assert spent <= BUDGET


def test_threads_holding_their_reservations_admit_exactly_what_fits(tmp_path):
    db = tmp_path / "usage.sqlite"
    _setup(db)
    with Governance.open(db) as gov:
        outcomes = race(gov, "shared", WORST, REQUESTS, seed=1, hold=threading.Barrier(REQUESTS))
    _check(db, outcomes, exactly_admitted=10)


def test_threads_settling_as_they_go_never_pass_the_budget(tmp_path):
    db = tmp_path / "usage.sqlite"
    _setup(db)
    with Governance.open(db) as gov:
        outcomes = race(gov, "shared", WORST, REQUESTS, seed=2)
    _check(db, outcomes, exactly_admitted=None)


def test_four_processes_on_one_file_admit_exactly_what_fits(tmp_path):
    db = tmp_path / "usage.sqlite"
    _setup(db)
    ctx = multiprocessing.get_context("spawn")
    hold = ctx.Barrier(REQUESTS)
    results = ctx.Queue()
    per_process = REQUESTS // 4
    procs = [
        ctx.Process(target=race_in_process, args=(str(db), "shared", str(WORST), per_process, seed, hold, results))
        for seed in range(4)
    ]
    for p in procs:
        p.start()
    outcomes: list[tuple] = []
    try:
        for _ in procs:
            outcomes += results.get(timeout=BARRIER_TIMEOUT_S + 60)
    except queue.Empty:
        raise AssertionError("a worker process did not report") from None
    finally:
        for p in procs:
            p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    _check(db, outcomes, exactly_admitted=10)
