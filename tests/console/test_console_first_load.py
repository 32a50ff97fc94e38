"""The first start on a large usage log: a progress bar while analytics loads, the rest of the console usable."""

from __future__ import annotations

import sqlite3

from console_support import assert_clean, charts, goto, open_console

from console import state
from gateway_core.usage.demo_history import seed_demo


def _grow(db, doublings: int) -> int:
    """Double the log's rows ``doublings`` times (each copy a distinct request id); returns the row count."""
    con = sqlite3.connect(db)
    try:
        cols = [row[1] for row in con.execute("PRAGMA table_info(usage_logs)") if row[1] != "id"]
        names = ", ".join(f'"{c}"' for c in cols)
        for k in range(doublings):
            picked = ", ".join(f"request_id || '-{k}'" if c == "request_id" else f'"{c}"' for c in cols)
            con.execute(f"INSERT INTO usage_logs ({names}) SELECT {picked} FROM usage_logs")
        con.commit()
        return con.execute("SELECT count(*) FROM usage_logs").fetchone()[0]
    finally:
        con.close()


def test_a_large_log_loads_behind_a_progress_bar_while_other_pages_work(console_env):
    seed_demo(console_env, days=30, requests=2000)
    rows = _grow(console_env, 7)
    assert rows > 2 * state.BACKGROUND_LOAD_ROWS  # a load long enough to watch

    at = goto(open_console(), "analytics")
    assert [p.text for p in at.progress][0].startswith("Loading the usage log for analytics:")
    assert f"of about {rows:,} rows" in at.progress[0].text
    assert not charts(at)  # no chart drawn from a half-loaded copy

    handle = state._build_analytics(str(console_env))  # the cached handle the page just used
    assert handle.loading() is not None, "the load finished before the other pages were tried"
    goto(at, "playground")
    assert at.chat_input and not at.progress
    goto(at, "governance")
    assert not at.progress

    assert handle.wait_loaded(timeout=120)
    goto(at, "analytics")
    assert not at.progress and charts(at)
    requests = int(next(m.value for m in at.metric if m.label == "Requests").replace(",", ""))
    assert requests > 0
    assert_clean(at)
