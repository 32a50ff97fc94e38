"""Under concurrency a hard budget holds: 64 requests race for a budget that fits 10 worst cases;
and a rate limit is exact: 64 requests racing for a limit of 10 a minute admit 10.

Every request reserves its worst case before it may run, atomically with the check, so the
settled spend cannot pass the budget and every request that does not fit is refused with
``budget_exceeded``, whether the requests come from threads of one process or from several
processes sharing the database: the SQLite file, or PostgreSQL, where the processes stand
for gateway instances on separate hosts.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter
from decimal import Decimal

from dbq import one

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
    spent, reserved = one(db, "SELECT SUM(spent_q), SUM(reserved_q) FROM budget_ledger WHERE scope = 'team:ml'")
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


def test_threads_holding_their_reservations_admit_exactly_what_fits(db_target):
    db = db_target
    _setup(db)
    with Governance.open(db) as gov:
        outcomes = race(gov, "shared", WORST, REQUESTS, seed=1, hold=threading.Barrier(REQUESTS))
    _check(db, outcomes, exactly_admitted=10)


def test_threads_settling_as_they_go_never_pass_the_budget(db_target):
    db = db_target
    _setup(db)
    with Governance.open(db) as gov:
        outcomes = race(gov, "shared", WORST, REQUESTS, seed=2)
    _check(db, outcomes, exactly_admitted=None)


def _race_in_processes(db, *, at: float | None = None) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    hold = ctx.Barrier(REQUESTS)
    results = ctx.Queue()
    per_process = REQUESTS // 4
    procs = [
        ctx.Process(target=race_in_process, args=(str(db), "shared", str(WORST), per_process, seed, hold, results, at))
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
    return outcomes


def test_four_processes_on_one_database_admit_exactly_what_fits(db_target):
    _setup(db_target)
    _check(db_target, _race_in_processes(db_target), exactly_admitted=10)


def test_four_processes_racing_for_a_rate_limit_admit_exactly_the_limit(db_target):
    """No local bucket: every admission decides on the shared state, so the overshoot is zero."""
    with Governance.open(db_target) as gov:
        gov.set_team("ml", rpm=10)
        gov.create_key(name="shared", team="ml")
    outcomes = _race_in_processes(db_target, at=1_800_000_000.0)  # one instant: no token comes back
    assert Counter(kind for kind, _ in outcomes) == {"admitted": 10, "refused": REQUESTS - 10}
    assert {detail for kind, detail in outcomes if kind == "refused"} == {"rate_limited"}


def test_instances_sweeping_and_settling_at_once_charge_each_abandoned_reservation_once(db_target):
    """Reservations of a dead instance, swept by four live ones at the same moment while their
    own requests settle late: each is charged once at its worst case, then corrected once."""
    with Governance.open(db_target, clock=lambda: 1_000.0, reservation_ttl_s=60) as dead:
        dead.set_team("ml", budget_usd=BUDGET)
        dead.create_key(name="shared", team="ml")
        principal = dead.principal_for("shared")
        abandoned = [dead.admit(principal, candidates_worst_case=WORST, tokens=1) for _ in range(6)]
    live = [Governance.open(db_target, clock=lambda: 2_000.0, reservation_ttl_s=60) for _ in range(4)]
    try:
        start = threading.Barrier(len(live) + 1)
        swept: list[int] = []

        def sweep(gov) -> None:
            start.wait(BARRIER_TIMEOUT_S)
            swept.append(gov.sweep())

        workers = [threading.Thread(target=sweep, args=(gov,)) for gov in live]
        for w in workers:
            w.start()
        start.wait(BARRIER_TIMEOUT_S)
        live[0].settle(abandoned[0], Decimal("0.001"))  # a late settle racing the sweeps
        live[0].flush()
        for w in workers:
            w.join()
    finally:
        for gov in live:
            gov.close()
    assert sum(swept) in (5, 6), "each reservation is expired by one sweep only"
    spent, reserved = _ledger(db_target)
    assert reserved == 0
    assert spent == WORST * 5 + Decimal("0.001"), "five charged at their worst case, the settled one at its cost"
