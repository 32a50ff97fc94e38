"""When nothing can store a row, the stated policy decides: ``refuse`` fails closed before any
provider is called; ``serve`` keeps answering and counts every lost row, loudly.

"Nothing can store" is made real twice over: the database is locked by another connection
past its busy timeout, and the spill directory is immutable (``storage_faults``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_fixtures import demo_gateway
from reliability_support import LiveServer, settle
from storage_faults import db_keys, immutable, require_immutable

from gateway_core import AuditLogUnavailable, GenerateRequest
from gateway_core.usage.schema import connect


def _calls(gw) -> int:
    return gw.emulators.azure.stats()["requests"] + gw.emulators.bedrock.stats()["requests"]


def _keys(results) -> dict:
    return {(r.request_id, k): 1 for r in results for k in range(1, len(r.attempts) + 1)}


@pytest.fixture
def nothing_can_store(tmp_path):
    """(gateway env extras, start, stop): start locks the database and freezes the spill directory."""
    require_immutable(tmp_path)
    db, spill = tmp_path / "log.sqlite", tmp_path / "spill"
    state = {}

    def start():
        state["blocker"] = blocker = connect(db)
        blocker.execute("BEGIN IMMEDIATE")
        state["frozen"] = immutable(spill)
        state["frozen"].__enter__()

    def stop():
        if "frozen" in state:
            state.pop("frozen").__exit__(None, None, None)
        if "blocker" in state:
            blocker = state.pop("blocker")
            blocker.execute("ROLLBACK")
            blocker.close()

    yield db, spill, start, stop
    stop()


def test_refuse_answers_503_before_any_provider_call_and_recovers(nothing_can_store):
    db, spill, start, stop = nothing_can_store
    gw = demo_gateway(db, GATEWAY_SPILL_DIR=str(spill), GATEWAY_ON_LOG_FAILURE="refuse", GATEWAY_DB_BUSY_TIMEOUT_S="0.1")
    req = GenerateRequest(prompt="Explain a spill file in one sentence.")
    try:
        with LiveServer(gw) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
            served = [gw.generate(req)]
            start()
            served.append(gw.generate(req))  # admitted: nothing has failed yet; its row waits in memory
            assert settle(lambda: gw.usage_log.state == "failing", 10)
            calls = _calls(gw)

            with pytest.raises(AuditLogUnavailable):
                gw.generate(req)
            with pytest.raises(AuditLogUnavailable):
                "".join(gw.stream(req))
            rest = client.post("/generate", json={"prompt": "hello"})
            assert rest.status_code == 503 and rest.json()["error"]["type"] == "audit_log_unavailable"
            assert rest.headers["retry-after"] == "5"
            chat = client.post("/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
            assert chat.status_code == 503 and chat.json()["error"]["code"] == "audit_log_unavailable"
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["usage_log"]["state"] == "failing"
            assert _calls(gw) == calls, "a refused request reached a provider"

            stop()
            assert settle(lambda: client.get("/readyz").status_code == 200, 15)
            served.append(gw.generate(req))
            assert gw.usage_log.flush()
            health = gw.usage_log.health()
    finally:
        gw.close()
    assert db_keys(db) == _keys(served), "the admitted request's row, held in memory, was kept"
    assert health.lost_total == 0


def test_serve_keeps_answering_and_counts_every_lost_row(nothing_can_store, caplog):
    db, spill, start, stop = nothing_can_store
    gw = demo_gateway(
        db,
        GATEWAY_SPILL_DIR=str(spill),
        GATEWAY_ON_LOG_FAILURE="serve",
        GATEWAY_DB_BUSY_TIMEOUT_S="0.1",
        GATEWAY_LOG_QUEUE_MB="1",
    )
    try:
        with LiveServer(gw) as srv:
            start()
            with ThreadPoolExecutor(max_workers=8) as pool:
                results = list(pool.map(lambda i: gw.generate(GenerateRequest(prompt=f"Question {i}?")), range(800)))
            assert all(r.text for r in results), "serve answers every request"
            assert settle(lambda: gw.usage_log.health().queue_depth + gw.usage_log.health().lost_total == 800, 10)
            health = gw.usage_log.health()
            assert health.state == "failing" and health.lost_total > 0
            assert health.queue_mb <= health.queue_limit_mb == 1.0, "memory stays within the stated bound"
            ready = httpx.get(f"{srv.url}/readyz", timeout=10).json()
            assert ready["reasons"][0]["lost_total"] == health.lost_total
            stop()
            assert settle(lambda: gw.usage_log.state == "ok", 15)
            assert gw.usage_log.flush()
            lost = gw.usage_log.health().lost_total
    finally:
        gw.close()
    stored = db_keys(db)
    assert sum(stored.values()) == 800 - lost and all(n == 1 for n in stored.values()), "every row is stored or counted lost"
    assert any("rows lost" in r.getMessage() for r in caplog.records), "losses are logged"
    print(f"\nserve under a total log outage: 800 rows, {800 - lost} kept in memory and stored after, {lost} lost and counted")
