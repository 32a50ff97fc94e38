"""What the usage log records when a request is refused or its stream is abandoned.

Refusals go to ``rejected_requests`` (where, which field, whose; never content), so
``usage_logs`` holds provider attempts only; a stream the caller stops reading is
``cancelled`` with the delivered tokens and their cost estimated, because the provider
bills them. Against real SQLite files (and a real PostgreSQL server where the backend
matters) and the in-process emulators.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from dbq import AppendLock, rows
from gateway_fixtures import HAIKU, demo_gateway, log_rows, tiktoken_available

from gateway_core.db import SqliteConn
from gateway_core.errors import ValidationError
from gateway_core.types import GenerateRequest, Usage
from gateway_core.usage import UsageLog
from gateway_core.usage.migrations import (
    m002_ab_votes,
    m003_log_meta,
    m004_write_path_indexes,
    migrate,
    parse_old_rejection,
)
from gateway_core.usage.schema import COLUMNS, connect

SEED_QUERY = "SELECT provider, model, total_tokens_est, cost_est_usd FROM usage_logs ORDER BY id DESC LIMIT 10"


def _old_log(path, ok_rows: int) -> None:
    """A log as the previous release left it: rejected rows inside usage_logs, no 'cancelled'."""
    conn = SqliteConn(connect(path))
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    cols = ",\n  ".join(f'"{n}" {d.replace(chr(39) + "cancelled" + chr(39), chr(39) + "rejected" + chr(39))}' for n, d in COLUMNS)
    conn.execute(f"CREATE TABLE usage_logs (\n  {cols}\n)")
    conn.execute("CREATE INDEX usage_logs_request_id ON usage_logs (request_id)")
    for step in (m002_ab_votes, m003_log_meta, m004_write_path_indexes):
        step(conn)
    for name in ("m001_initial", "m002_ab_votes", "m003_log_meta", "m004_write_path_indexes"):
        conn.execute("INSERT INTO migrations VALUES (?, '2026-01-01')", (name,))
    ts = "2026-01-01 00:00:00.000000"
    conn.executemany(
        "INSERT INTO usage_logs (ts, request_id, provider, model, status) VALUES (?, ?, 'azure', 'gpt-4o-mini', 'ok')",
        [(ts, f"req_{i}") for i in range(ok_rows)],
    )
    conn.execute(
        "INSERT INTO usage_logs (ts, request_id, attempt, final, user, status, error_type, error_message)"
        " VALUES (?, 'req_bad', 0, 1, 'alice', 'rejected', 'validation_error', 'invalid max_tokens (api)')",
        (ts,),
    )
    conn.close()


@pytest.mark.parametrize(
    "message,expected",
    [
        ("invalid max_tokens (api)", ("max_tokens", "api")),
        ("invalid messages[0].content (console)", ("messages[0].content", "console")),
        ("something else", (None, "unknown")),
        (None, (None, "unknown")),
    ],
)
def test_old_rejection_messages_give_back_their_field_and_source(message, expected):
    assert parse_old_rejection(message) == expected


def test_migration_moves_rejected_rows_out_and_lets_usage_logs_record_cancelled(tmp_path):
    db = tmp_path / "old.sqlite"
    _old_log(db, ok_rows=50)
    conn = connect(db)
    assert "m006_rejected_requests" in migrate(conn)
    moved = conn.execute("SELECT ts, request_id, source, field, error_type, user FROM rejected_requests").fetchall()
    assert moved == [("2026-01-01 00:00:00.000000", "req_bad", "api", "max_tokens", "validation_error", "alice")]
    assert conn.execute("SELECT count(*), count(provider) FROM usage_logs").fetchone() == (50, 50)
    assert conn.execute("SELECT value FROM log_meta WHERE key = 'generation'").fetchone() == (1,)  # mirrors rebuild
    indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_logs'")}
    assert {"usage_logs_attempt_key", "usage_logs_real_id"} <= indexes  # the key replaced the request_id index
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.execute("INSERT INTO usage_logs (ts, request_id, status) VALUES ('2026-01-02', 'req_c', 'cancelled')")
    # ids never go backwards, even though the newest row was moved out
    assert conn.execute("SELECT max(id) FROM usage_logs").fetchone() == (52,)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO usage_logs (ts, request_id, status) VALUES ('2026-01-02', 'req_r', 'rejected')")
    assert migrate(conn) == []
    conn.close()


def test_a_fresh_log_accepts_cancelled_and_has_no_rejected_status(tmp_path):
    with UsageLog(tmp_path / "fresh.sqlite") as log:
        log.write({"request_id": "r1", "provider": "azure", "model": "m", "status": "cancelled"})
        with pytest.raises(ValueError, match="status"):
            log.write({"request_id": "r2", "status": "rejected"})
    assert [r["status"] for r in log_rows(tmp_path / "fresh.sqlite")] == ["cancelled"]


def test_rejections_go_through_the_background_writer_into_their_own_table(db_target):
    db = db_target
    with UsageLog(db) as log:
        holder = AppendLock(db)
        holder.take()  # another process holds the write lock
        done = threading.Event()

        def refuse():
            log.write_rejected({"request_id": "req_1", "source": "api", "field": "prompt", "error_type": "validation_error"})
            log.write({"request_id": "req_2", "provider": "azure", "model": "m"})
            done.set()

        threading.Thread(target=refuse).start()
        assert done.wait(1.0), "logging a refusal waited on the database"
        holder.close()
        with pytest.raises(ValueError, match="prompt_text"):
            log.write_rejected({"request_id": "req_3", "source": "api", "error_type": "x", "prompt_text": "secret"})
    assert [(r["request_id"], r["source"], r["field"]) for r in log_rows(db, table="rejected_requests")] == [
        ("req_1", "api", "prompt")
    ]
    assert [r["request_id"] for r in log_rows(db)] == ["req_2"]


def test_the_seed_query_shows_real_rows_after_bad_input(db_target):
    db = db_target
    with demo_gateway(db) as gw:
        for _ in range(3):
            gw.generate(GenerateRequest(prompt="Name one river."))
        for bad in ({"prompt": "  "}, {"prompt": "x", "max_tokens": 0}, {"prompt": "x", "temperature": 9.0}):
            with pytest.raises(ValidationError) as e:
                GenerateRequest(**bad)
            gw.log_rejected(e.value, user="bob", source="console")
        gw.usage_log.flush()
    newest = rows(db, SEED_QUERY)
    refused = rows(db, 'SELECT field, source, "user" FROM rejected_requests ORDER BY id')
    assert len(newest) == 3 and all(provider and model and tokens for provider, model, tokens, _ in newest)
    assert refused == [("prompt", "console", "bob"), ("max_tokens", "console", "bob"), ("temperature", "console", "bob")]


@pytest.mark.skipif(not tiktoken_available(), reason="exact token counts need the offline tiktoken files")
@pytest.mark.parametrize("hint,model", [("azure", "gpt-4o-mini"), ("bedrock", HAIKU)])
def test_an_abandoned_stream_records_delivered_tokens_and_their_cost(tmp_path, hint, model):
    db = tmp_path / "cancel.sqlite"
    with demo_gateway(db, AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini", BEDROCK_MODEL_ID=HAIKU) as gw:
        stream = gw.stream(GenerateRequest(prompt="Explain circuit breakers in detail.", provider_hint=hint, max_tokens=300))
        chunks = iter(stream)
        received = "".join(next(chunks) for _ in range(6))
        chunks.close()  # the caller hangs up
        gw.usage_log.flush()
        (row,) = log_rows(db)
        priced_as = gw.runtime.routes[[r.model for r in gw.runtime.routes].index(model)].priced_as
        calibrate = gw.runtime.provider(hint).calibrate_input_tokens
        expected_out = gw.tokens.count_text(priced_as, received, calibrate=calibrate).tokens
        expected_cost = gw.prices.cost(hint, priced_as, Usage(row["prompt_tokens_est"], expected_out))
    assert (row["status"], row["error_type"], row["model"], row["final"]) == ("cancelled", "cancelled", model, 1)
    assert row["token_source"] == "estimated"
    assert row["input_tokens"] == row["prompt_tokens_est"] > 0
    assert row["output_tokens"] == expected_out > 0
    assert row["cost_usd"] == pytest.approx(float(expected_cost)) and row["cost_usd"] > 0
    assert row["counterfactual_cost_usd"] is not None
