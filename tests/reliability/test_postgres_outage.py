"""PostgreSQL goes away under a running gateway and comes back: rows spill, /readyz says why, all
replay; a request that needs the keys or budgets meanwhile gets a typed 503, not a 500.

The gateway reaches the test's server through a loopback link the test cuts: every open
connection drops and new ones are refused, as when the database host disappears.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
from dbq import rows
from gateway_fixtures import demo_env
from reliability_support import LiveServer
from storage_faults import spill_keys
from tcp_cut import CuttableLink

from gateway_core import GenerateRequest, Settings
from gateway_core.gateway import Gateway
from gateway_core.governance import Governance

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "during"}]}


def _wait(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_an_unreachable_database_spills_rows_fails_readiness_and_replays_them_all_when_back(pg_url, tmp_path):
    port = urlsplit(pg_url).port
    link = CuttableLink(port)
    url = pg_url.replace(f":{port}/", f":{link.port}/")
    spill = tmp_path / "spill"
    gw = Gateway(Settings.from_mapping(demo_env(url, GATEWAY_SPILL_DIR=str(spill), GATEWAY_DB_BUSY_TIMEOUT_S="1")))
    try:
        before = [gw.generate(GenerateRequest(prompt=f"before {i}")).request_id for i in range(10)]
        assert gw.usage_log.flush() and gw.readiness().ready
        link.cut()
        during = [gw.generate(GenerateRequest(prompt=f"during {i}")).request_id for i in range(20)]
        assert _wait(lambda: sum(spill_keys(spill).values()) == len(during), 30), "every row of the outage spilled"
        readiness = gw.readiness().as_dict()
        assert readiness["status"] == "not_ready"
        assert {r["check"] for r in readiness["reasons"]} >= {"usage_log", "governance"}
        link.restore()
        assert _wait(lambda: gw.readiness().ready, 60), gw.readiness().as_dict()
        assert _wait(lambda: not sum(spill_keys(spill).values()), 30), "the spill was replayed"
    finally:
        gw.close()
        link.close()
    stored = [rid for (rid,) in rows(pg_url, "SELECT request_id FROM usage_logs WHERE synthetic = 0")]
    assert sorted(stored) == sorted(before + during), "every attempt once, none lost, none twice"


def test_a_request_that_must_read_governance_during_the_outage_gets_a_typed_503_and_reaches_no_provider(pg_url, tmp_path):
    port = urlsplit(pg_url).port
    link = CuttableLink(port)
    url = pg_url.replace(f":{port}/", f":{link.port}/")
    settings = Settings.from_mapping(demo_env(url, GATEWAY_SPILL_DIR=str(tmp_path / "spill")))
    # Principals cached for 0.1 s instead of 5, so the outage outlasts the cache at once.
    gw = Gateway(settings, governance=Governance.from_settings(settings, principal_ttl_s=0.1))
    try:
        with LiveServer(gw) as server:
            assert httpx.post(server.url + "/generate", json={"prompt": "before"}, timeout=30).status_code == 200
            calls = sum(e.stats()["requests"] for e in gw.emulators.running().values())
            link.cut()
            time.sleep(0.2)
            for path, body in (("/generate", {"prompt": "during"}), ("/v1/chat/completions", CHAT)):
                r = httpx.post(server.url + path, json=body, timeout=30)
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "5"
                assert "governance_unavailable" in r.text and "governance storage cannot be reached" in r.text
            assert sum(e.stats()["requests"] for e in gw.emulators.running().values()) == calls, "nothing was sent"
            link.restore()
            assert _wait(
                lambda: httpx.post(server.url + "/generate", json={"prompt": "after"}, timeout=30).status_code == 200, 30
            )
    finally:
        gw.close()
        link.close()
