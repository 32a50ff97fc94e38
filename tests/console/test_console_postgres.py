"""The console on a PostgreSQL usage database: Analytics, Requests and Governance work as on SQLite.

Only ``GATEWAY_DB_URL`` differs from the other console tests; the pages are the same code.
"""

from __future__ import annotations

import pytest
from console_support import ask, assert_clean, goto, open_console
from dbq import one
from test_console_governance import create_key
from test_console_signin import ADMIN, console_as, visit

from gateway_core.governance import AuditLog, Governance
from gateway_core.usage.demo_history import seed_demo


@pytest.fixture
def pg_console(console_env, pg_url, monkeypatch):
    """The console's environment with its usage database in PostgreSQL; returns the URL."""
    monkeypatch.setenv("GATEWAY_DB_URL", pg_url)
    return pg_url


def _requests_tile(at) -> int:
    return int(next(m.value for m in at.metric if m.label == "Requests").replace(",", ""))


def test_analytics_reads_seeded_history_from_postgresql_and_filters_by_team(pg_console):
    seed_demo(pg_console, days=30, requests=2000)
    at = goto(open_console(), "analytics")
    everyone = _requests_tile(at)
    assert everyone > 0
    at.sidebar.multiselect(key="an_teams").select("support").run()
    assert_clean(at)
    assert 0 < _requests_tile(at) < everyone


def test_requests_page_lists_a_console_question_and_a_refusal_stored_in_postgresql(pg_console):
    at = ask(open_console(), "first question")
    goto(at, "compare")
    at.button[0].click().run()  # an empty prompt: refused, naming the field
    goto(at, "requests")
    assert [e.label.split(" · ")[-1] for e in at.expander] == ["console / chat"]
    assert [t.label for t in at.tabs] == ["Sent to a provider", "Rejected (1)"]
    assert one(pg_console, "SELECT field FROM rejected_requests") == ("prompt",)


def test_governance_page_creates_a_key_in_postgresql_shown_once_and_audited(pg_console, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONSOLE_ADMINS", "ada@example.com")
    at = create_key(visit(console_as(ADMIN), "governance"), "ci-bot", "ml", rpm=30)
    [shown] = [c.value for c in at.code]
    with Governance.open(pg_console) as gov:
        assert gov.authenticate(shown).key_name == "ci-bot"
    assert one(pg_console, "SELECT count(*) FROM api_keys WHERE key_hash = ?", (shown,))[0] == 0
    entry = AuditLog(pg_console).entries()[0]
    assert (entry.action, entry.target) == ("key.created", "ci-bot")
    at.run()
    assert_clean(at)
    assert not at.code
