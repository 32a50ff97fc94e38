"""Keys on a real SQLite file: authentication, revocation, expiry, static keys, administration, storage."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from gateway_core.errors import AuthenticationError, BudgetExceeded, GatewayError, ValidationError
from gateway_core.governance import MIGRATION_STEPS, Governance

from .conftest import START

CENT = Decimal("0.01")


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "   ", "Bearer ", "not-a-key", "gwk_abcdefghij_" + "x" * 43])
def test_missing_malformed_and_unknown_keys_get_401_invalid_api_key(gov, token):
    with pytest.raises(AuthenticationError) as e:
        gov.authenticate(token)
    assert (e.value.status, e.value.code) == (401, "invalid_api_key")
    assert isinstance(e.value, GatewayError)


def test_a_created_key_authenticates_as_its_principal_with_or_without_the_bearer_word(gov):
    record, key = gov.create_key(name="ci-bot", team="ml", user="ana", models=["gpt-4o-mini"])
    for token in (key, f"Bearer {key}", f"bearer  {key} "):
        p = gov.authenticate(token)
        assert (p.key_name, p.key_id, p.team, p.user) == ("ci-bot", record.key_id, "ml", "ana")
        assert p.models == frozenset({"gpt-4o-mini"}) and p.providers is None


def test_a_key_with_a_wrong_secret_is_invalid_and_the_error_never_echoes_it(gov):
    _, key = gov.create_key(name="ci-bot", team="ml")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError) as e:
        gov.authenticate(forged)
    assert e.value.code == "invalid_api_key"
    assert forged not in str(e.value) and key not in str(e.value)


def test_revocation_takes_effect_on_the_next_request_in_this_process(gov):
    _, key = gov.create_key(name="ci-bot", team="ml")
    assert gov.authenticate(key).key_name == "ci-bot"  # now cached
    gov.revoke_key("ci-bot", reason="leaked in a build log")
    with pytest.raises(AuthenticationError) as e:
        gov.authenticate(key)
    assert (e.value.status, e.value.code) == (401, "key_revoked")
    assert "leaked in a build log" in e.value.message and key not in e.value.message


def test_a_key_revoked_elsewhere_is_refused_at_its_next_admission_and_by_authentication_within_5_s(gov, db, clock):
    _, key = gov.create_key(name="ci-bot", team="ml", rpm=100)
    other = Governance.open(db, clock=clock)  # another process on the same file
    try:
        principal = other.authenticate(key)
        other.admit(principal, candidates_worst_case=None, tokens=1)
        gov.revoke_key("ci-bot", reason="rotation")
        with pytest.raises(AuthenticationError) as e:
            other.admit(principal, candidates_worst_case=None, tokens=1)
        assert e.value.code == "key_revoked" and "rotation" in e.value.message
        clock.advance(other.principal_ttl_s)
        with pytest.raises(AuthenticationError) as e:
            other.authenticate(key)
        assert e.value.code == "key_revoked"
    finally:
        other.close()


def test_a_changed_limit_reaches_other_processes_within_the_cache_ttl(gov, db, clock):
    _, key = gov.create_key(name="ci-bot", team="ml")
    other = Governance.open(db, clock=clock)
    try:
        assert other.authenticate(key).rates == ()
        gov.set_team("ml", rpm=7)
        assert gov.authenticate(key).rates[0].limit == 7  # this process: at once
        clock.advance(other.principal_ttl_s)
        assert other.authenticate(key).rates[0].limit == 7
    finally:
        other.close()


def test_a_key_expires_at_its_expiry(gov, clock):
    _, key = gov.create_key(name="temp", team="ml", expires_at=START + 3600)
    assert gov.authenticate(key).key_name == "temp"
    clock.advance(3600)
    with pytest.raises(AuthenticationError) as e:
        gov.authenticate(key)
    assert (e.value.status, e.value.code) == (401, "key_expired")
    assert "2026-04-15T13:00:00Z" in e.value.message


def test_expiry_applies_even_to_a_principal_authenticated_a_moment_ago(gov, clock):
    _, key = gov.create_key(name="brief", team="ml", tpm=1000, expires_at=START + 3)
    principal = gov.authenticate(key)
    clock.advance(3)  # within the principal cache's lifetime
    with pytest.raises(AuthenticationError) as e:
        gov.admit(principal, candidates_worst_case=None, tokens=1)
    assert e.value.code == "key_expired"
    with pytest.raises(AuthenticationError) as e:
        gov.authenticate(key)
    assert e.value.code == "key_expired"


def test_static_keys_are_principals_of_the_default_team_named_by_position(gov):
    p = gov.authenticate("static-key-two")
    assert (p.key_name, p.team, p.static) == ("static-2", "default", True)
    assert "static-key" not in repr(p)
    gov.set_team("default", budget_usd=CENT)
    capped = gov.authenticate("Bearer static-key-one")
    gov.admit(capped, candidates_worst_case=CENT, tokens=10)
    with pytest.raises(BudgetExceeded):
        gov.admit(capped, candidates_worst_case=CENT, tokens=10)


def test_a_trusted_caller_can_run_as_a_key_chosen_by_name_under_its_limits(gov):
    gov.create_key(name="playground", team="ml", rpm=5)
    p = gov.principal_for("playground")
    assert p.key_name == "playground" and p.rates[0].limit == 5
    gov.revoke_key("playground")
    with pytest.raises(AuthenticationError) as e:
        gov.principal_for("playground")
    assert e.value.code == "key_revoked"
    with pytest.raises(AuthenticationError):
        gov.principal_for("nobody")


# --- administration --------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field",
    [
        (dict(name="bad name", team="ml"), "name"),
        (dict(name="ok", team=""), "team"),
        (dict(name="ok", team="ml", budget_usd="-1"), "budget_usd"),
        (dict(name="ok", team="ml", budget_usd="lots"), "budget_usd"),
        (dict(name="ok", team="ml", budget_usd="NaN"), "budget_usd"),
        (dict(name="ok", team="ml", budget_period="year"), "budget_period"),
        (dict(name="ok", team="ml", rpm=0), "rpm"),
        (dict(name="ok", team="ml", tpm=1.5), "tpm"),
        (dict(name="ok", team="ml", providers=["azure", "gcp"]), "providers"),
        (dict(name="ok", team="ml", models=[]), "models"),
        (dict(name="ok", team="ml", expires_at=START - 1), "expires_at"),
        (dict(name="ok", team="ml", user="x" * 200), "user"),
    ],
)
def test_bad_admin_input_names_the_field_and_writes_nothing(gov, fields, field):
    with pytest.raises(ValidationError) as e:
        gov.create_key(**fields)
    assert e.value.field == field
    assert gov.keys() == [] and gov.teams() == []


def test_a_key_name_is_taken_once(gov):
    gov.create_key(name="ci-bot", team="ml")
    with pytest.raises(ValidationError) as e:
        gov.create_key(name="ci-bot", team="other")
    assert e.value.field == "name"
    assert [k.team for k in gov.keys()] == ["ml"]


def test_team_changes_keep_what_is_not_given_and_none_clears(gov):
    gov.set_team("ml", budget_usd="100", budget_period="week", rpm=60)
    t = gov.set_team("ml", tpm=5000)
    assert (t.budget_usd, t.budget_period, t.soft, t.rpm, t.tpm) == (Decimal("100"), "week", 0.8, 60, 5000)
    t = gov.set_team("ml", budget_usd=None, rpm=None)
    assert (t.budget_usd, t.rpm, t.tpm) == (None, None, 5000)
    with pytest.raises(ValidationError) as e:
        gov.set_team("ml", soft=0)
    assert e.value.field == "soft"


def test_the_key_secret_is_never_stored_in_clear(gov, db):
    gov.set_team("ml", budget_usd="5", rpm=100)
    record, key = gov.create_key(name="ci-bot", team="ml")
    p = gov.authenticate(key)
    gov.settle(gov.admit(p, candidates_worst_case=CENT, tokens=10), CENT)
    gov.revoke_key("ci-bot", reason="rotation")
    gov.close()
    secret = key.split("_", 2)[2]
    files = [f for f in db.parent.iterdir() if f.name.startswith(db.name)]
    blob = b"".join(f.read_bytes() for f in files)
    assert record.key_id.encode() in blob and record.key_hash.encode() in blob  # the scan sees the rows
    assert key.encode() not in blob and secret.encode() not in blob
    assert secret[:16].encode() not in blob


def test_the_migration_joins_the_usage_log_migrations_once(db, clock):
    from gateway_core.usage import MIGRATIONS, UsageLog

    assert [name for name, step in MIGRATION_STEPS] == [step.__name__ for _, step in MIGRATION_STEPS]
    Governance.open(db, clock=clock).close()
    Governance.open(db, clock=clock).close()
    log = UsageLog(str(db))
    log.close()
    with sqlite3.connect(db) as con:
        names = [n for (n,) in con.execute("SELECT name FROM migrations ORDER BY name")]
    assert "m005_governance" in [s.__name__ for s in MIGRATIONS]
    assert names == sorted(s.__name__ for s in MIGRATIONS)
