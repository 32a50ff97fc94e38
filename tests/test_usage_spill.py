"""Spill files, the stores and the writer's bounds, against real files, locks and mounts, and a real
PostgreSQL server: the key, replay and the locks run on both backends; file faults are SQLite's."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest
from dbq import AppendLock, rows
from storage_faults import db_keys, immutable, require_immutable, spill_keys, tmpfs

from gateway_core.db import SqliteConn
from gateway_core.usage import UsageLog, ensure_schema
from gateway_core.usage.health import FAILING, OK, SPILLING, admits
from gateway_core.usage.migrations import MIGRATIONS, migrate
from gateway_core.usage.schema import WRITABLE, connect, row_values
from gateway_core.usage.sink import StorageUnavailable
from gateway_core.usage.spill import DAMAGED_SUFFIX, ReplayReport, SpillDir
from gateway_core.usage.sqlite_sink import storage_problem
from gateway_core.usage.storage import ROW_BYTES
from gateway_core.usage.writer import make_sink


def _row(request_id: str, attempt: int = 1, **kw) -> dict:
    return {"request_id": request_id, "attempt": attempt, "provider": "azure", "model": "gpt-4o-mini", "status": "ok", **kw}


def _record(request_id: str, attempt: int = 1) -> dict:
    return dict(zip(WRITABLE, row_values(_row(request_id, attempt), time.time())))


def _usage(records: list[dict]) -> list[tuple[str, dict]]:
    return [("usage_logs", r) for r in records]


def _sink_commit(sink):
    return lambda table, rows: sink.commit([tuple(r[c] for c in WRITABLE) for r in rows])


# --- the key --------------------------------------------------------------------------------


def test_a_repeated_attempt_key_is_stored_once_and_counted_as_present(db_target):
    db = db_target
    with UsageLog(db) as log:
        log.write(_row("r1", 1, latency_ms=1.0))
        log.write(_row("r1", 2))
        log.write(_row("r1", 1, latency_ms=2.0))  # same key again: a replay would look like this
        assert log.flush()
        stats = log.stats()
    assert db_keys(db) == {("r1", 1): 1, ("r1", 2): 1}
    assert stats["rows_written"] == 2 and stats["rows_present"] == 1
    assert rows(db, "SELECT latency_ms FROM usage_logs WHERE attempt = 1") == [(1.0,)]  # the first stays


def test_migration_moves_repeated_keys_aside_and_keeps_every_row(tmp_path):
    db = tmp_path / "old.sqlite"
    con = SqliteConn(connect(db))
    con.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for step in MIGRATIONS[:-1]:  # the log as it was before the key existed
        step(con)
        con.execute("INSERT INTO migrations VALUES (?, '2025-01-01')", (step.__name__,))
    cols = ", ".join(WRITABLE)
    values = [
        row_values(_row(rid, att, latency_ms=float(i)), 0.0)
        for i, (rid, att) in enumerate([("a", 1), ("a", 1), ("b", 1), ("a", 2), ("a", 1)])
    ]
    con.executemany(f"INSERT INTO usage_logs ({cols}) VALUES ({', '.join('?' * len(WRITABLE))})", values)
    generation = con.execute("SELECT value FROM log_meta WHERE key = 'generation'").fetchone()[0]

    assert migrate(con) == ["m010_attempt_key"]
    kept = con.execute("SELECT request_id, attempt, latency_ms FROM usage_logs ORDER BY id").fetchall()
    moved = con.execute("SELECT request_id, attempt, latency_ms FROM usage_logs_duplicates ORDER BY id").fetchall()
    assert kept == [("a", 1, 0.0), ("b", 1, 2.0), ("a", 2, 3.0)]  # the first of each key stays
    assert moved == [("a", 1, 1.0), ("a", 1, 4.0)]
    assert con.execute("SELECT value FROM log_meta WHERE key = 'generation'").fetchone()[0] == generation + 1
    indexes = {r[1]: r[2] for r in con.execute("PRAGMA index_list(usage_logs)")}
    assert indexes.get("usage_logs_attempt_key") == 1 and "usage_logs_request_id" not in indexes
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO usage_logs (ts, request_id, attempt) VALUES ('t', 'b', 1)")
    con.close()


# --- spill files ----------------------------------------------------------------------------


@pytest.fixture
def log_and_spill(tmp_path, db_target) -> tuple[Path, SpillDir]:
    """A migrated log (a file, or a PostgreSQL schema), and a checked spill directory."""
    db = db_target
    ensure_schema(db)
    spill = SpillDir(tmp_path / "spill")
    spill.check()
    return db, spill


def test_spilled_batches_replay_in_order_and_files_go_only_after_commit(log_and_spill):
    db, spill = log_and_spill
    spill.append(_usage([_record(f"s{i}") for i in range(3)]))
    spill.append(_usage([_record(f"s{i}") for i in range(3, 7)]))
    assert sum(spill_keys(spill.path).values()) == 7 and spill.pending_rows() == 7
    assert spill.sealed() == []  # still open here: nobody replays a growing file
    spill.seal()

    sink = make_sink(db)
    sink.open(create=False)
    report = spill.replay(_sink_commit(sink), batch_max=2)
    sink.close()
    assert (report.committed, report.present, report.files, report.finished_rows) == (7, 0, 1, 7)
    assert list(spill.path.iterdir()) == []
    assert [r[0] for r in rows(db, "SELECT request_id FROM usage_logs ORDER BY id")] == [f"s{i}" for i in range(7)]


def test_a_replay_cut_short_by_a_held_lock_resumes_without_duplicates(log_and_spill):
    db, spill = log_and_spill
    spill.append(_usage([_record(f"k{i}") for i in range(10)]))
    spill.seal()
    sink = make_sink(db, busy_timeout_s=0.1)
    sink.open(create=False)
    blocker = AppendLock(db)
    commits = 0

    def commit_then_lock(table, batch):
        nonlocal commits
        if commits == 1:
            blocker.take()  # another writer takes the lock between batches
        commits += 1
        return _sink_commit(sink)(table, batch)

    report = ReplayReport()
    try:
        with pytest.raises(StorageUnavailable) as failed:
            spill.replay(commit_then_lock, batch_max=4, report=report)
    finally:
        blocker.close()
    assert failed.value.kind == "locked"
    assert report.committed == 4 and report.files == 0 and len(spill.sealed()) == 1  # the file stays

    again = spill.replay(_sink_commit(sink), batch_max=4)
    sink.close()
    assert (again.committed, again.present, again.files) == (6, 4, 1)
    assert db_keys(db) == {(f"k{i}", 1): 1 for i in range(10)} and spill.sealed() == []


def test_a_torn_last_line_is_counted_and_the_file_kept_aside(log_and_spill):
    db, spill = log_and_spill
    spill.append(_usage([_record("t1"), _record("t2")]))
    name = next(spill.path.glob("spill-*.jsonl"))
    spill.seal()
    with name.open("ab") as f:  # a crash in the middle of the next append
        f.write(b'{"table":"usage_logs","row":{"request_id":"t3","att')
    sink = make_sink(db)
    sink.open(create=False)
    report = spill.replay(_sink_commit(sink))
    sink.close()
    assert (report.committed, report.unreadable, report.finished_rows) == (2, 1, 3)
    assert not name.exists() and name.with_name(name.name + DAMAGED_SUFFIX).exists()
    assert spill.sealed() == []  # a damaged file is never replayed twice


def _hold_a_spill_file(spill_dir: str, ready, release) -> None:
    spill = SpillDir(spill_dir)
    spill.append(_usage([_record("held")]))
    ready.set()
    release.wait(60)


def test_a_file_another_live_process_is_writing_is_left_alone(tmp_path, db_target):
    db = db_target
    ensure_schema(db)
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_a_spill_file, args=(str(spill_dir), ready, release))
    child.start()
    try:
        assert ready.wait(60)
        sink = make_sink(db)
        sink.open(create=False)
        mine = SpillDir(spill_dir)
        assert mine.replay(_sink_commit(sink)).files == 0  # its owner still holds the lock
        release.set()
        child.join(60)
        assert mine.replay(_sink_commit(sink)).committed == 1  # a lock goes with its process
        sink.close()
    finally:
        release.set()
        child.join(10)
    assert db_keys(db) == {("held", 1): 1}


def test_a_batch_that_does_not_fit_on_a_full_disk_leaves_the_file_as_it_was(tmp_path):
    with tmpfs(tmp_path / "small", 64) as mount:
        spill = SpillDir(mount / "spill")
        spill.check()
        spill.append(_usage([_record("fits")]))
        name = next(spill.path.glob("spill-*.jsonl"))
        size = name.stat().st_size
        big = [_record(f"big-{i}") | {"route_reason": "x" * 2000} for i in range(100)]  # ~200 KB
        with pytest.raises(OSError) as full:
            spill.append(_usage(big))
        assert full.value.errno == 28  # ENOSPC
        assert name.stat().st_size == size and sum(spill_keys(spill.path).values()) == 1
        spill.append(_usage([_record("after")]))  # still appendable once there is room
        assert spill_keys(spill.path) == {("fits", 1): 1, ("after", 1): 1}
        spill.seal()


# --- telling store problems from bad rows ------------------------------------------------------


def _provoke(tmp_path: Path, what: str) -> sqlite3.Error:
    db = tmp_path / f"{what}.sqlite"
    ensure_schema(db)
    con = connect(db)
    try:
        if what == "full":
            con.execute(f"PRAGMA max_page_count = {con.execute('PRAGMA page_count').fetchone()[0]}")
            con.execute("CREATE TABLE filler (x)")
            con.execute("INSERT INTO filler VALUES (zeroblob(100000))")
        elif what == "read_only":
            connect(db, read_only=True).execute("INSERT INTO log_meta VALUES ('x', 1)")
        elif what == "locked":
            con.execute("BEGIN IMMEDIATE")
            other = sqlite3.connect(db, timeout=0.05)
            other.execute("BEGIN IMMEDIATE")
        elif what == "bad_row":
            con.execute("INSERT INTO usage_logs (ts, request_id) VALUES ('t', NULL)")
        elif what == "damaged":
            (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
            sqlite3.connect(tmp_path / "junk.sqlite").execute("SELECT * FROM sqlite_master")
    except sqlite3.Error as exc:
        return exc
    finally:
        con.close()
    raise AssertionError(f"{what} did not fail")


@pytest.mark.parametrize(
    "what, kind",
    [("full", "full"), ("read_only", "read_only"), ("locked", "locked"), ("damaged", "damaged"), ("bad_row", None)],
)
def test_sqlite_errors_sort_into_store_problems_and_bad_rows(tmp_path, what, kind):
    problem = storage_problem(_provoke(tmp_path, what))
    assert (problem.kind if problem else None) == kind


# --- policy, and the writer's memory bound --------------------------------------------------


@pytest.mark.parametrize(
    "policy, state, queue_full, admitted",
    [
        ("serve", OK, False, True),
        ("serve", FAILING, True, True),
        ("refuse", OK, False, True),
        ("refuse", SPILLING, False, True),  # rows are safe on disk: keep serving
        ("refuse", FAILING, False, False),
        ("refuse", OK, True, False),
    ],
)
def test_refuse_turns_requests_away_only_when_rows_cannot_be_kept(policy, state, queue_full, admitted):
    assert admits(policy, state, queue_full) is admitted


def test_when_nothing_can_store_rows_memory_stays_bounded_and_losses_are_counted(tmp_path):
    require_immutable(tmp_path)
    db, spill_dir = tmp_path / "log.sqlite", tmp_path / "spill"
    bound_rows = 40
    log = UsageLog(
        db,
        spill_dir=spill_dir,
        policy="refuse",
        busy_timeout_s=0.05,
        queue_max_bytes=bound_rows * ROW_BYTES,
        flush_interval_s=0.01,
        probe_interval_s=0.1,
    )
    blocker = connect(db)
    blocker.execute("BEGIN IMMEDIATE")  # the database: locked past its busy timeout
    try:
        with immutable(spill_dir):  # the spill directory: nothing can be created in it
            for i in range(100):
                log.write(_row(f"m{i}"))
            assert not log.flush(timeout=2), "nothing can store these rows, so flush cannot succeed"
            h = log.health()
            assert h.state == FAILING and not log.admits()
            assert h.queue_depth == bound_rows and h.queue_mb <= h.queue_limit_mb
            assert h.lost_total == 100 - bound_rows
        blocker.execute("ROLLBACK")
        assert log.flush(timeout=10)
        deadline = time.monotonic() + 10
        while log.state != OK and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        log.close()
    assert db_keys(db) == {(f"m{i}", 1): 1 for i in range(bound_rows)}  # the held rows, in order, all kept
    assert log.health().lost_total == 100 - bound_rows and log.admits()


def test_a_log_file_deleted_while_idle_is_noticed_and_never_recreated_empty(tmp_path):
    db = tmp_path / "log.sqlite"
    log = UsageLog(db, probe_interval_s=0.05)
    try:
        log.write(_row("before"))
        assert log.flush()
        os.remove(db)
        deadline = time.monotonic() + 5
        while log.state == OK and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.health().problem.startswith("deleted")
        log.write(_row("after"))
        assert log.flush()
        time.sleep(0.2)
        assert not db.exists(), "a deleted log must not come back empty behind the operator's back"
        assert spill_keys(log.spill_dir) == {("after", 1): 1}
    finally:
        log.close()


def test_a_spilled_row_the_database_refuses_does_not_hold_back_the_others(log_and_spill):
    db, spill = log_and_spill
    bad = _record("bad") | {"status": "exploded"}  # violates the status CHECK: never storable
    spill.append(_usage([_record("good-1"), bad, _record("good-2")]))
    spill.seal()
    with UsageLog(db, spill_dir=spill.path) as log:  # a start replays what was left
        assert log.flush()
        stats = log.stats()
    assert db_keys(db) == {("good-1", 1): 1, ("good-2", 1): 1}
    assert stats["rows_failed"] == 1 and stats["rows_replayed"] == 2 and not spill.sealed()


def test_refusals_spill_and_replay_beside_attempts_each_table_keyed(db_target):
    db = db_target
    log = UsageLog(db, busy_timeout_s=0.05, flush_interval_s=0.01, probe_interval_s=0.05)
    blocker = AppendLock(db)
    blocker.take()
    try:
        for i in range(3):
            log.write_rejected({"request_id": f"ref-{i}", "source": "api", "field": "prompt", "error_type": "validation_error"})
        log.write(_row("att-1"))
        assert log.flush()
        lines = [json.loads(line) for f in log.spill_dir.glob("spill-*.jsonl") for line in f.read_text().splitlines()]
        assert [item["table"] for item in lines] == ["rejected_requests"] * 3 + ["usage_logs"]
    finally:
        blocker.close()
    deadline = time.monotonic() + 10
    while log.state != OK and time.monotonic() < deadline:
        time.sleep(0.02)
    log.write_rejected({"request_id": "ref-0", "source": "api", "field": "prompt", "error_type": "validation_error"})
    assert log.flush()
    log.close()
    refused = [r[0] for r in rows(db, "SELECT request_id FROM rejected_requests ORDER BY id")]
    assert refused == ["ref-0", "ref-1", "ref-2"], "replayed in order, and a refusal already stored is skipped"
    assert db_keys(db) == {("att-1", 1): 1}


def test_another_process_replaying_while_a_spill_file_is_created_never_takes_it(tmp_path, monkeypatch):
    from gateway_core.usage import spill

    writer, other = SpillDir(tmp_path / "spill"), SpillDir(tmp_path / "spill")
    real_flock, replayed = spill.fcntl.flock, []

    def replay_first(fd, op):  # the other process's replay pass lands just before the writer's lock
        if not replayed:
            replayed.append(None)  # once: the replay's own locks go straight through
            replayed[0] = other.replay(lambda table, rows: len(rows))
        return real_flock(fd, op)

    monkeypatch.setattr(spill.fcntl, "flock", replay_first)
    writer.append(_usage([_record("mine")]))
    monkeypatch.undo()
    writer.seal()
    assert replayed[0].files == 0, "the file being created was invisible to replay"
    assert spill_keys(tmp_path / "spill") == {("mine", 1): 1}


def test_skipping_files_other_writers_hold_is_not_taken_for_recovery(tmp_path):
    db = tmp_path / "log.sqlite"
    log = UsageLog(db, probe_interval_s=0.05)
    other = SpillDir(log.spill_dir)  # another live writer's file: locked, so never replayed here
    other.append(_usage([_record("theirs")]))
    try:
        os.remove(db)
        time.sleep(0.6)  # a dozen probes
        assert log.state != OK and log.health().problem.startswith("deleted")
        assert not db.exists() and spill_keys(log.spill_dir) == {("theirs", 1): 1}
    finally:
        other.seal()
        log.close()
