"""Several gateway processes share one SQLite usage log: every attempt lands exactly once."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from reliability_support import scaled
from reliability_workers import log_writer_process

PROCESSES = 4
PER_PROCESS = scaled(500, 5000)
JOIN_TIMEOUT_S = scaled(240, 1800)


@pytest.mark.timeout(scaled(300, 3600))
def test_four_processes_writing_one_log_lose_and_double_nothing(tmp_path):
    db = tmp_path / "shared.sqlite"
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=log_writer_process, args=(str(db), f"p{i}", PER_PROCESS, results)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT_S)
    exits = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert exits == [0] * PROCESSES, f"writer processes exited with {exits}"
    reports = [results.get(timeout=10) for _ in procs]

    expected_rows = sum(attempts for _, _, attempts, _ in reports)
    assert sum(n for _, n, _, _ in reports) == PROCESSES * PER_PROCESS
    con = sqlite3.connect(db)
    try:
        total = con.execute("SELECT COUNT(*) FROM usage_logs").fetchone()[0]
        distinct = con.execute("SELECT COUNT(DISTINCT request_id || '/' || attempt) FROM usage_logs").fetchone()[0]
        per_tag = dict(con.execute("SELECT user, COUNT(DISTINCT request_id) FROM usage_logs GROUP BY user"))
        finals = con.execute("SELECT COUNT(*) FROM usage_logs WHERE final = 1").fetchone()[0]
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()

    # Zero-latency emulators never fail, so one attempt per request: exactly 2,000 rows by default.
    assert expected_rows == PROCESSES * PER_PROCESS
    assert total == expected_rows, f"{expected_rows - total} rows lost (or doubled) across processes"
    assert distinct == total, "a (request_id, attempt) pair was written twice"
    assert finals == PROCESSES * PER_PROCESS, "each request has exactly one final row"
    assert per_tag == {f"p{i}-user": PER_PROCESS for i in range(PROCESSES)}
    assert integrity == "ok"
