"""The usage log under real storage faults: no row is lost, and ``/readyz`` tells the truth.

Each fault is real (see ``storage_faults``): the database full at its ``GATEWAY_DB_MAX_MB``
cap (a genuine SQLITE_FULL from ``max_page_count``) after another writer filled it; the
database files made immutable, which is how a read-only file system looks to a process,
root included; the database file deleted under the running gateway; and a write lock
held by another connection past ``GATEWAY_DB_BUSY_TIMEOUT_S``. Traffic runs through one
``Gateway`` with a fifth of Azure calls failing, so requests make one or two attempts.

For each fault: while it lasts, the rows in the database plus the rows in the spill files
are exactly the attempts made, key for key, and ``/readyz`` answers 503 naming the log,
with its spilled count and no loss; after recovery the database alone holds every attempt
exactly once, the spill directory is empty, and ``/readyz`` answers 200.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gateway_fixtures import demo_gateway
from reliability_support import LiveServer, scaled, settle
from soak_traffic import AZURE_MIX, BEDROCK_MIX, TIMEOUT_S, check_log_matches_attempts, read_rows, run_one
from storage_faults import db_keys, log_files_frozen, require_immutable, spill_keys

from gateway_core.usage.demo_history import purge_synthetic, seed_demo
from gateway_core.usage.schema import connect

PHASE = scaled(150, 1500)
CONCURRENCY = 8
FIGURES: dict[str, dict] = {}


def traffic(gw, start: int, n: int) -> list:
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        outcomes = list(pool.map(lambda i: run_one(gw, i), range(start, start + n)))
    assert all(o.status in ("ok", "failed", "interrupted") for o in outcomes), [o for o in outcomes if o.status == "unexpected"][
        :3
    ]
    return outcomes


def attempt_keys(outcomes) -> Counter:
    return Counter((o.request_id, k) for o in outcomes for k in range(1, len(o.attempts) + 1))


def readyz(url: str) -> tuple[int, dict]:
    r = httpx.get(f"{url}/readyz", timeout=10)
    return r.status_code, r.json()


def wait_ready(url: str, status: int) -> dict:
    seen: list = []
    assert settle(lambda: seen.append(readyz(url)) or seen[-1][0] == status, 20), f"/readyz never answered {status}: {seen[-1]}"
    return seen[-1][1]


def run_fault(tmp_path, name: str, inject, recover, *, env=None, file_lost: bool = False) -> None:
    db, spill = tmp_path / "log.sqlite", tmp_path / "spill"
    gw = demo_gateway(db, GATEWAY_SPILL_DIR=str(spill), **(env or {}))
    gw.emulators.azure.set_faults(error_rate=0.2, mix=[{"status": 503}, {"status": 429, "retry_after_s": 0.01}], seed=21)
    try:
        with LiveServer(gw) as srv:
            healthy = traffic(gw, 0, PHASE)
            assert gw.usage_log.flush()
            assert readyz(srv.url)[0] == 200

            inject(db)
            during = traffic(gw, PHASE, PHASE)
            assert gw.usage_log.flush(timeout=60)
            body = wait_ready(srv.url, 503)
            spilled = spill_keys(spill)
            expected = attempt_keys(during if file_lost else healthy + during)
            assert db_keys(db) + spilled == expected, "database + spill must hold each attempt exactly once"
            assert spilled, "the fault must have sent rows to the spill"
            reason = next(r for r in body["reasons"] if r["check"] == "usage_log")
            assert reason["spilled_pending"] == sum(spilled.values()) and reason["lost_total"] == 0
            assert body["usage_log"]["problem"].split(":")[0] in name

            recover(db)
            wait_ready(srv.url, 200)
            assert gw.usage_log.flush()
            assert db_keys(db) == attempt_keys(healthy + during), "after recovery the database alone holds every attempt once"
            assert not spill_keys(spill) and not list(spill.glob("*.damaged"))
            h = gw.usage_log.health()
            assert h.lost_total == 0 and h.spilled_pending == 0
    finally:
        gw.close()
    FIGURES[name] = {
        "attempts": sum(attempt_keys(healthy + during).values()),
        "during_fault": sum(attempt_keys(during).values()),
        "spilled": sum(spilled.values()),
        "replayed": h.replayed_total,
    }
    print(f"\n{name}: {FIGURES[name]}")


def test_a_full_database_spills_and_replays_once_space_is_freed(tmp_path):
    def inject(db):
        seed_demo(db, days=2, requests=4000)  # another writer fills the file past the 1 MB cap

    def recover(db):
        purge_synthetic(db)  # the operator frees space; the cap stays

    run_fault(tmp_path, "full", inject, recover, env={"GATEWAY_DB_MAX_MB": "1"})


def test_read_only_database_files_spill_and_replay_once_writable(tmp_path):
    require_immutable(tmp_path)
    frozen = []

    def inject(db):
        frozen.append(log_files_frozen(db))
        frozen[0].__enter__()

    def recover(db):
        frozen[0].__exit__(None, None, None)

    try:
        run_fault(tmp_path, "io_error read_only", inject, recover)
    finally:
        if frozen:
            frozen[0].__exit__(None, None, None)


def test_a_database_file_deleted_in_use_spills_until_it_is_restored(tmp_path):
    backup = tmp_path / "backup.sqlite"

    def inject(db):
        src, dst = sqlite3.connect(db), sqlite3.connect(backup)
        src.backup(dst)  # the operator's backup, taken before the accident
        src.close(), dst.close()
        db.unlink()

    def recover(db):
        shutil.copyfile(backup, db)

    run_fault(tmp_path, "deleted", inject, recover, file_lost=True)


def test_a_lock_held_past_the_busy_timeout_spills_and_replays_when_released(tmp_path):
    blocker: list[sqlite3.Connection] = []

    def inject(db):
        blocker.append(connect(db))
        blocker[0].execute("BEGIN IMMEDIATE")  # another process's long transaction

    def recover(db):
        blocker[0].execute("ROLLBACK")

    try:
        run_fault(tmp_path, "locked", inject, recover, env={"GATEWAY_DB_BUSY_TIMEOUT_S": "0.3"})
    finally:
        if blocker:
            blocker[0].close()


def _spill_then_exit(db: str, spill: str, n: int, out) -> None:
    """An earlier gateway process: its log is full the whole time, so rows spill (a few may
    still fit in part-filled pages); it exits normally (the ``atexit`` hook closes the log)
    with the database still full, leaving the spill behind."""
    gw = demo_gateway(Path(db), GATEWAY_SPILL_DIR=spill, GATEWAY_DB_MAX_MB="1")
    outcomes = traffic(gw, 0, n)
    assert gw.usage_log.flush()
    out.put([(o.request_id, len(o.attempts)) for o in outcomes])


def test_a_restart_replays_what_an_earlier_process_spilled(tmp_path):
    db, spill = tmp_path / "log.sqlite", tmp_path / "spill"
    seed_demo(db, days=2, requests=4000)  # past the 1 MB cap before the first process starts
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_spill_then_exit, args=(str(db), str(spill), PHASE, out))
    child.start()
    made = out.get(timeout=240)
    child.join(60)
    assert child.exitcode == 0
    expected = Counter((rid, k) for rid, n in made for k in range(1, n + 1))
    at_exit = spill_keys(spill)
    assert db_keys(db) + at_exit == expected and at_exit, "the first process stored or spilled every row"

    purge_synthetic(db)  # space freed while no gateway runs
    gw = demo_gateway(db, GATEWAY_SPILL_DIR=str(spill))
    try:
        assert settle(lambda: not spill_keys(spill), 20)
        assert gw.usage_log.flush() and gw.usage_log.state == "ok"
        replayed = gw.usage_log.health().replayed_total
    finally:
        gw.close()
    assert db_keys(db) == expected and replayed == sum(at_exit.values())
    FIGURES["restart"] = {"attempts": sum(expected.values()), "replayed_at_start": replayed}


SOAK_REQUESTS = scaled(1000, 10000)


@pytest.mark.timeout(scaled(300, 3600))
def test_fault_soak_while_the_disk_is_full_keeps_exact_accounting(tmp_path):
    db, spill = tmp_path / "soak.sqlite", tmp_path / "spill"
    seed_demo(db, days=2, requests=4000)  # full from the first request
    gw = demo_gateway(db, GATEWAY_SPILL_DIR=str(spill), GATEWAY_DB_MAX_MB="1", GATEWAY_TIMEOUT_S=str(TIMEOUT_S))
    gw.emulators.azure.set_faults(error_rate=0.3, mix=AZURE_MIX, seed=4321)
    gw.emulators.bedrock.set_faults(error_rate=0.05, mix=BEDROCK_MIX, seed=8765)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(lambda i: run_one(gw, i), range(SOAK_REQUESTS)))
        assert gw.usage_log.flush(timeout=60)
        unexpected = [o for o in outcomes if o.status == "unexpected"]
        assert not unexpected, unexpected[:3]
        expected = attempt_keys(outcomes)
        during = db_keys(db) + spill_keys(spill)
        assert during == expected, "while full: database + spill hold every attempt exactly once"
        spilled = sum(spill_keys(spill).values())
        assert gw.usage_log.health().lost_total == 0 and spilled > 0.9 * sum(expected.values())

        purge_synthetic(db)
        assert settle(lambda: gw.usage_log.state == "ok" and not spill_keys(spill), 30)
        assert gw.usage_log.flush()
    finally:
        gw.close()
    check_log_matches_attempts(outcomes, read_rows(db))
    FIGURES["soak while full"] = {
        "requests": SOAK_REQUESTS,
        "attempts": sum(expected.values()),
        "spilled": spilled,
        "interrupted": sum(o.status == "interrupted" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
    }


@pytest.fixture(scope="module", autouse=True)
def _report_figures():
    yield
    if FIGURES:
        print("\nlog storage faults:", FIGURES)
