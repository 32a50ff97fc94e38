"""The usage log against a real SQLite file and a real PostgreSQL server: schema, durability,
concurrency and masking. Tests of one backend's own mechanics (SQLite's pragmas, its query
plan, its older files) say so in their fixture."""

from __future__ import annotations

import multiprocessing
import threading
import time
from decimal import Decimal

import pytest
from dbq import count, hold_append_lock, rows

from gateway_core.db import connect as db_connect
from gateway_core.errors import ValidationError
from gateway_core.types import GenerateResult, Usage
from gateway_core.usage import UsageLog
from gateway_core.usage.migrations import MIGRATIONS, migrate
from gateway_core.usage.schema import connect


def _row(**kw) -> dict:
    row = {
        "request_id": "req-1",
        "provider": "azure",
        "model": "gpt-4o-mini",
        "total_tokens_est": 120,
        "cost_est_usd": Decimal("0.0000450"),
        "status": "ok",
        "latency_ms": 123.4,
    }
    row.update(kw)
    return row


@pytest.fixture
def db(db_target):
    return db_target


@pytest.fixture
def sqlite_db(tmp_path):
    return tmp_path / "usage.sqlite"


def _count(target) -> int:
    return count(target)


def test_original_query_returns_newest_rows_first(db):
    with UsageLog(db) as log:
        for i in range(12):
            log.write(_row(request_id=f"r{i}", total_tokens_est=i, model="gpt-4o" if i == 11 else "gpt-4o-mini"))
    found = rows(db, "SELECT provider, model, total_tokens_est, cost_est_usd FROM usage_logs ORDER BY id DESC LIMIT 10")
    assert len(found) == 10
    assert found[0] == ("azure", "gpt-4o", 11, pytest.approx(0.000045))
    assert [r[2] for r in found] == list(range(11, 1, -1))


def test_connections_use_wal_normal_sync_and_busy_timeout(sqlite_db):
    db = sqlite_db
    UsageLog(db).close()
    conn = connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_are_recorded_once_and_rerun_is_a_no_op(db):
    UsageLog(db).close()
    UsageLog(db).close()
    names = [r[0] for r in rows(db, "SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(m.__name__ for m in MIGRATIONS)
    assert names[0] == "m001_initial"
    conn = db_connect(db)
    try:
        assert migrate(conn) == []
    finally:
        conn.close()


def test_write_does_not_wait_for_a_held_write_lock(db):
    log = UsageLog(db, flush_interval_s=0.01)
    with hold_append_lock(db):  # another writer holds the table
        # Every write returns while the lock is held: the request path never touches disk.
        for i in range(200):
            log.write(_row(request_id=f"locked-{i}"))
        time.sleep(0.2)  # the writer thread is now waiting on the lock
        assert _count(db) == 0
    assert log.flush(timeout=15)
    assert _count(db) == 200
    log.close()


def test_close_flushes_everything_queued_and_is_idempotent(db):
    log = UsageLog(db, flush_interval_s=5.0, batch_max=10_000)
    for i in range(300):
        log.write(_row(request_id=f"c{i}"))
    log.close()
    log.close()
    assert _count(db) == 300
    assert log.stats()["rows_written"] == 300
    with pytest.raises(RuntimeError):
        log.write(_row())


def test_flush_makes_rows_visible_and_stats_count_batches(db):
    log = UsageLog(db)
    for i in range(50):
        log.write(_row(request_id=f"f{i}"))
    assert log.flush()
    assert _count(db) == 50
    stats = log.stats()
    assert stats["rows_written"] == 50 and stats["batches"] >= 1 and stats["queue_depth"] == 0
    log.close()


def test_unknown_column_and_bad_status_raise_at_write(db):
    with UsageLog(db) as log:
        with pytest.raises(ValueError, match="cost_usdd"):
            log.write(_row(cost_usdd=1.0))
        with pytest.raises(ValueError, match="status"):
            log.write(_row(status="okay"))
    assert _count(db) == 0


def test_values_are_stored_as_plain_sql_types(db):
    with UsageLog(db) as log:
        log.write(_row(cost_usd=Decimal("0.0012345678"), streamed=True, final=None, ts=None))
    cost, streamed, final, ts, attempt = rows(db, "SELECT cost_usd, streamed, final, ts, attempt FROM usage_logs")[0]
    assert cost == pytest.approx(0.0012345678) and streamed == 1 and final == 1 and attempt == 1
    assert len(ts) == 26 and ts[10] == " "  # 'YYYY-MM-DD HH:MM:SS.ffffff', UTC


def test_whole_numbers_given_for_amounts_and_latencies_are_stored_as_such(db):
    with UsageLog(db) as log:
        log.write(_row(request_id="whole", cost_usd=1, latency_ms=12, ttft_ms=3))
    assert rows(db, "SELECT cost_usd, latency_ms, ttft_ms FROM usage_logs WHERE request_id = 'whole'") == [(1.0, 12.0, 3.0)]


def _write_from_process(path: str, worker: int) -> None:
    log = UsageLog(path, batch_max=20, flush_interval_s=0.001)
    for i in range(250):
        log.write(_row(request_id=f"p{worker}-{i}"))
    log.close()


def test_four_processes_writing_one_database_lose_nothing(db):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_from_process, args=(str(db), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert rows(db, "SELECT count(*), count(DISTINCT request_id) FROM usage_logs") == [(1000, 1000)]


def _write_and_exit_without_close(path: str) -> None:
    log = UsageLog(path, flush_interval_s=10.0, batch_max=100_000)
    for i in range(500):
        log.write(_row(request_id=f"exit-{i}"))


def test_rows_queued_at_normal_exit_are_flushed(db):
    proc = multiprocessing.get_context("spawn").Process(target=_write_and_exit_without_close, args=(str(db),))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    assert _count(db) == 500


def test_threads_sharing_one_log_lose_nothing(db):
    with UsageLog(db) as log:
        threads = [
            threading.Thread(target=lambda w=w: [log.write(_row(request_id=f"t{w}-{i}")) for i in range(200)]) for w in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert _count(db) == 1000


def test_recent_attempts_newest_first_without_synthetic_rows(db):
    with UsageLog(db) as log:
        log.write(_row(request_id="old", latency_ms=10.0, output_tokens=5))
        log.write(_row(request_id="fake", synthetic=1))
        log.write(
            _row(request_id="new", provider="bedrock", model="m", latency_ms=20.0, estimate_raw_tokens=90, input_tokens=104)
        )
    with UsageLog(db) as log:
        recent = log.recent_attempts(limit=10)
        assert len(log.recent_attempts(limit=10, include_synthetic=True)) == 3
    assert [r["latency_ms"] for r in recent] == [20.0, 10.0]
    assert recent[0]["estimate_raw_tokens"] == 90 and recent[0]["input_tokens"] == 104 and recent[0]["provider"] == "bedrock"


def _result(provider: str, model: str, cost: str) -> GenerateResult:
    return GenerateResult("text", provider, model, Usage(10, 5), Decimal(cost), None, None, 1.0, None, (), False, "r", "")


def test_record_vote_stores_winner_from_results_or_fields(db):
    log = UsageLog(db)
    log.record_vote(
        compare_id="c1",
        task="chat",
        verdict="b",
        a=_result("azure", "gpt-4o-mini", "0.001"),
        b=_result("bedrock", "claude", "0.002"),
        user="ana",
    )
    log.record_vote(compare_id="c2", verdict="tie", provider_a="bedrock", provider_b="azure")
    with pytest.raises(ValidationError):
        log.record_vote(compare_id="c3", verdict="left", provider_a="azure", provider_b="bedrock")
    log.close()
    found = rows(db, 'SELECT verdict, winner_provider, winner_model, cost_b_usd, "user" FROM ab_votes ORDER BY id')
    assert found == [("b", "bedrock", "claude", 0.002, "ana"), ("tie", None, None, None, None)]


def test_router_warm_up_query_uses_the_partial_index(sqlite_db):
    db = sqlite_db
    UsageLog(db).close()
    conn = connect(db)
    plan = " ".join(
        str(r[-1])
        for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM usage_logs WHERE synthetic = 0 ORDER BY id DESC LIMIT 10")
    )
    assert "usage_logs_real_id" in plan
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(usage_logs)")}
    assert "usage_logs_ts" not in indexes, "inserts should not pay for an index nothing reads"


def test_a_log_from_before_keys_gains_the_key_name_column_and_keeps_its_rows(db):
    from gateway_core.usage.migrations import m001_initial, m002_ab_votes, m003_log_meta, m004_write_path_indexes
    from gateway_core.usage.schema import COLUMNS

    conn = db_connect(db)
    older = ", ".join(f'"{name}" {decl}' for name, decl in COLUMNS if name != "key_name")
    conn.ddl(f"CREATE TABLE usage_logs ({older})")
    conn.execute("INSERT INTO usage_logs (ts, request_id, provider, model, team) VALUES ('2026-01-01', 'old', 'azure', 'm', 't')")
    # The database was migrated up to m004 by an older release (m001 found its table already there).
    migrate(conn, (m001_initial, m002_ab_votes, m003_log_meta, m004_write_path_indexes))
    conn.close()
    with UsageLog(db) as log:
        log.write(_row(request_id="new", key_name="ci-bot", team="platform"))
    got = rows(db, "SELECT request_id, team, key_name FROM usage_logs ORDER BY id")
    assert got == [("old", "t", None), ("new", "platform", "ci-bot")]
    conn = db_connect(db)
    try:  # governance's tables come with the log
        assert all(conn.columns(table) for table in ("api_keys", "teams", "budget_ledger"))
    finally:
        conn.close()
