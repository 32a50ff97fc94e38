"""Workers for the concurrency tests: threads (and, spawned, processes) racing for one budget.

Each worker thread admits one request at its worst case, then, with every reservation of
the round still held (``hold`` barrier), settles it at a random actual cost no higher than
the worst case. Outcomes are plain tuples so they cross process boundaries.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal

from gateway_core.errors import BudgetExceeded, RateLimitExceeded
from gateway_core.governance import Governance

BARRIER_TIMEOUT_S = 120


def race(gov: Governance, key_name: str, worst: Decimal, threads: int, seed: int, hold=None) -> list[tuple]:
    """Run ``threads`` requests at once against ``gov``; ``hold`` (a barrier) keeps every reservation
    held until all have been admitted or refused. Returns (outcome, detail) per request."""
    principal = gov.principal_for(key_name)
    start = threading.Barrier(threads)
    outcomes: list[tuple] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        rng = random.Random(seed * 10_000 + i)
        start.wait(BARRIER_TIMEOUT_S)
        try:
            admission = gov.admit(principal, candidates_worst_case=worst, tokens=100)
        except (BudgetExceeded, RateLimitExceeded) as e:
            result = ("refused", e.code)
            admission = None
        except Exception as e:  # noqa: BLE001 - any other failure is what the test must see
            result = ("error", f"{type(e).__name__}: {e}")
            admission = None
        if hold is not None:
            hold.wait(BARRIER_TIMEOUT_S)
        if admission is not None:
            actual = (worst * rng.randint(0, 1000) / 1000).quantize(Decimal("1e-10"))
            gov.settle(admission, actual)
            result = ("admitted", str(actual))
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return outcomes


def race_in_process(
    db_path: str, key_name: str, worst: str, threads: int, seed: int, hold, results, at: float | None = None
) -> None:
    """A spawned process: its own Governance on the shared database, ``threads`` racing
    requests; ``at`` stops its clock at that instant."""
    with Governance.open(db_path, **({} if at is None else {"clock": lambda: at})) as gov:
        results.put(race(gov, key_name, Decimal(worst), threads, seed, hold))
