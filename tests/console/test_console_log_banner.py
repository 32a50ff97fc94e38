"""The console says, on every page, when the usage log is not writing to its database."""

from __future__ import annotations

import time

from console_support import APP, ask, assert_clean, goto, open_console
from streamlit.testing.v1 import AppTest

from console import state
from gateway_core.usage.schema import connect

BANNER = "Usage log degraded"


def _banners(at) -> list[str]:
    return [w.value for w in (*at.warning, *at.error) if BANNER in w.value]


def _wait_for(predicate, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert predicate()


def test_a_banner_with_counts_shows_on_every_page_while_the_log_spills(console_env, monkeypatch):
    monkeypatch.setenv("GATEWAY_DB_BUSY_TIMEOUT_S", "0.1")
    at = open_console()
    assert not _banners(at), "no banner while the log is healthy"
    gw = state.gateway()
    blocker = connect(console_env)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database past the busy timeout
    try:
        ask(at, "What is a spill file?")
        _wait_for(lambda: gw.usage_log.health().spilled_pending > 0)
        spilled = gw.usage_log.health().spilled_pending
        for page in ("playground", "analytics", "requests", "providers"):
            at = goto(at, page)
            banners = _banners(at)
            assert len(banners) == 1, (page, banners)
            assert f"{spilled:,} rows waiting in spill files" in banners[0] and "0 lost" in banners[0]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    _wait_for(lambda: gw.usage_log.state == "ok")
    at.run()
    assert_clean(at)
    assert not _banners(at), "the banner goes once the spill is replayed"


def test_an_unopenable_log_stops_the_console_with_the_variable_and_path_named(console_env, monkeypatch, tmp_path):
    bad = tmp_path / "no-such-dir" / "log.sqlite"
    monkeypatch.setenv("GATEWAY_DB_PATH", str(bad))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "**GATEWAY_DB_PATH**" in errors[0] and str(bad) in errors[0], errors
    assert "directory does not exist" in errors[0]
