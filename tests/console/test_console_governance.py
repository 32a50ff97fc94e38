"""The Governance page as a signed-in admin: keys shown once, revocation, team budgets, burn-down, audit."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from console_support import assert_clean
from test_console_pages import _all_bytes, _chart_count
from test_console_signin import ADMIN, console_as, visit

from gateway_core.governance import AuditLog, Governance


@pytest.fixture
def admin_env(console_env, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONSOLE_ADMINS", "ada@example.com")
    return console_env


def governance_page():
    return visit(console_as(ADMIN), "governance")


def database_bytes(db) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def page_text(at) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in [*at.main, *at.sidebar])


def create_key(at, name: str, team: str, rpm: int | None = None):
    at.text_input(key="gov_key_name").input(name)
    at.text_input(key="gov_key_team").input(team)
    if rpm is not None:
        at.number_input(key="gov_key_rpm").set_value(rpm)
    next(b for b in at.button if b.label == "Create key").click().run()
    assert_clean(at)
    return at


def test_a_created_key_is_shown_once_and_then_nowhere(admin_env, caplog):
    caplog.set_level(logging.DEBUG)
    at = create_key(governance_page(), "ci-bot", "ml", rpm=30)
    [shown] = [c.value for c in at.code]
    assert shown.startswith("gwk_")
    assert any("shown this once" in s.value for s in at.success)
    with Governance.open(admin_env) as gov:
        principal = gov.authenticate(shown)
    assert (principal.key_name, principal.team) == ("ci-bot", "ml")
    at.run()  # any later rerun (another click, a refresh) draws the page without it
    assert_clean(at)
    assert not at.code
    assert shown.encode() not in _all_bytes(at._tree)
    keys = at.dataframe[0].value
    assert list(keys[["name", "team", "state", "rpm"]].iloc[0]) == ["ci-bot", "ml", "active", "30"]
    assert keys["key"].iloc[0].startswith("gwk_") and keys["key"].iloc[0].endswith("_…")
    assert shown.encode() not in database_bytes(admin_env)
    assert shown not in caplog.text
    entry = AuditLog(admin_env).entries()[0]
    assert (entry.action, entry.target, entry.actor, entry.role) == ("key.created", "ci-bot", "ada@example.com", "admin")
    assert entry.detail["team"] == "ml" and entry.detail["rpm"] == 30 and shown not in str(entry.detail)


def test_a_bad_key_name_is_named_and_nothing_is_created(admin_env):
    at = create_key(governance_page(), "bad name!", "ml")
    assert any(e.value.startswith("Invalid **name**") for e in at.error)
    assert not at.code
    with Governance.open(admin_env) as gov:
        assert gov.keys() == []
    assert AuditLog(admin_env).entries() == []


def test_revoking_a_key_takes_effect_and_is_audited_with_the_reason(admin_env):
    at = create_key(governance_page(), "old-bot", "ml")
    key = at.code[0].value
    at.selectbox(key="gov_revoke_name").set_value("old-bot")
    at.text_input(key="gov_revoke_reason").input("rotated")
    next(b for b in at.button if b.label == "Revoke").click().run()
    assert_clean(at)
    keys = at.dataframe[0].value
    assert list(keys[["name", "state", "note"]].iloc[0]) == ["old-bot", "revoked", "rotated"]
    with Governance.open(admin_env) as gov, pytest.raises(Exception, match="revoked"):
        gov.authenticate(key)
    revoked = AuditLog(admin_env).entries()[0]
    assert (revoked.action, revoked.target, revoked.detail["reason"]) == ("key.revoked", "old-bot", "rotated")


def _spend(db, team: str, usd: str) -> None:
    """Settle real spend on ``team``'s budget through the governance library, as requests would."""
    with Governance.open(db) as gov:
        gov.create_key(name=f"{team}-spender", team=team)
        admission = gov.admit(gov.principal_for(f"{team}-spender"), candidates_worst_case=Decimal(usd), tokens=0)
        gov.settle(admission, Decimal(usd))


def test_a_team_budget_set_here_shows_its_burn_down_and_near_limit(admin_env):
    at = governance_page()
    assert any("No budget is set yet" in i.value for i in at.info)
    at.selectbox(key="gov_team_pick").set_value("New team…").run()
    at.text_input(key="gov_team_new").input("research")
    at.number_input(key="gov_team_budget_New team…").set_value(10.0)
    next(b for b in at.button if b.label == "Save team").click().run()
    assert_clean(at)
    entry = AuditLog(admin_env).entries()[0]
    assert (entry.action, entry.target, entry.detail["budget_usd"]) == ("team.changed", "research", [None, "10.0"])
    _spend(admin_env, "research", "9")
    at.run()
    assert_clean(at)
    assert any("1 budget at or past the soft limit" in w.value for w in at.warning)
    near = at.dataframe[0].value
    assert list(near[["budget of", "spent"]].iloc[0]) == ["team research", "$9.0000"]
    assert near["used"].iloc[0] == pytest.approx(0.9)
    assert _chart_count(at) == 1
    assert any(c.value.startswith("$9.0000 spent of $10.0000 (90%") for c in at.caption)
    teams = at.dataframe[2].value  # near limits, keys, teams
    assert list(teams[["team", "budget", "spent"]].iloc[0]) == ["research", "$10.0000 per month", "$9.0000"]


def test_the_audit_log_on_the_page_lists_changes_from_every_surface(admin_env):
    AuditLog(admin_env, source="cli").record("root@build-host", "team.changed", "ml", {"rpm": [None, 5]})
    AuditLog(admin_env, source="api").record("admin-api", "key.revoked", "x", {"reason": "leak"})
    at = governance_page()
    trail = at.dataframe[-1].value
    assert list(trail["source"]) == ["api", "cli"] and list(trail["actor"]) == ["admin-api", "root@build-host"]
    assert "The newest 200 entries" in page_text(at)
