"""The admin audit log: entries read back as written, never hold a key, and the CLI leaves one per change."""

from __future__ import annotations

import getpass
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.cli import main
from gateway_core.errors import ValidationError
from gateway_core.governance import AuditLog
from gateway_core.governance.audit_log import key_detail, mask_keys, team_change
from gateway_core.governance.records import TeamRecord


def database_bytes(db) -> bytes:
    """Everything SQLite keeps for ``db``: the file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def test_entries_read_back_newest_first_with_who_what_and_when(db):
    log = AuditLog(db, source="api")
    before = datetime.now(UTC)
    first = log.record("ana@example.com", "key.created", "ci-bot", {"team": "ml", "rpm": 30}, role="admin")
    second = log.record("ops@example.com", "faults.injected", "Azure OpenAI", {"status": 429})
    entries = log.entries()
    assert [e.id for e in entries] == [second, first]
    newest, oldest = entries
    assert (oldest.actor, oldest.role, oldest.source, oldest.action, oldest.target) == (
        "ana@example.com",
        "admin",
        "api",
        "key.created",
        "ci-bot",
    )
    assert oldest.detail == {"team": "ml", "rpm": 30}
    assert newest.role is None and newest.detail == {"status": 429}
    assert before - timedelta(seconds=1) <= oldest.ts <= datetime.now(UTC) + timedelta(seconds=1)


def test_frame_keeps_the_window_it_is_asked_for(db):
    log = AuditLog(db)
    log.record("a@example.com", "demo.loaded", "synthetic rows", {"rows": 10})
    now = datetime.now(UTC)
    assert len(log.frame(since=now - timedelta(minutes=1))) == 1
    assert log.frame(since=now + timedelta(minutes=1)).empty
    assert log.frame(until=now - timedelta(minutes=1)).empty
    frame = log.frame()
    assert list(frame.columns) == ["id", "ts", "actor", "role", "source", "action", "target", "detail"]
    assert json.loads(frame["detail"].iloc[0]) == {"rows": 10}


def test_a_key_put_into_an_entry_by_mistake_keeps_only_its_public_id(db, gov):
    record, key = gov.create_key(name="leaky", team="ml")
    log = AuditLog(db)
    log.record(f"someone {key}", "key.created", key, {"oops": key, "note": f"key was {key}."})
    entry = log.entries()[0]
    public = f"gwk_{record.key_id}_…"
    assert entry.target == public
    assert entry.detail == {"oops": public, "note": f"key was {public}."}
    assert key not in json.dumps(entry.detail) and key not in entry.actor
    gov.close()
    assert key.encode() not in database_bytes(db)


def test_mask_keys_leaves_other_text_alone():
    assert mask_keys("gwk_abcdefghij_S3cr3t-value_xyz and more") == "gwk_abcdefghij_… and more"
    assert mask_keys("no key here, gwk_short_x") == "no key here, gwk_short_x"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda log: log.record("a@example.com", "key.stolen", "x"), "action"),
        (lambda log: log.record("", "key.created", "x"), "actor"),
        (lambda log: log.record("a\nb", "key.created", "x"), "actor"),
        (lambda log: log.record("a@example.com", "key.created", "x", ["not", "a", "mapping"]), "detail"),
        (lambda log: log.record("a@example.com", "key.created", "x", {"big": "x" * 5000}), "detail"),
        (lambda log: log.frame(since="yesterday"), "since"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db, call, field):
    log = AuditLog(db)
    with pytest.raises(ValidationError) as caught:
        call(log)
    assert caught.value.field == field
    assert log.entries() == []


def test_an_unknown_source_is_refused():
    with pytest.raises(ValidationError) as caught:
        AuditLog("unused.sqlite", source="browser")
    assert caught.value.field == "source"


def test_key_detail_and_team_change_describe_what_changed(gov):
    record, key = gov.create_key(name="bot", team="ml", budget_usd="5", budget_period="day", rpm=30)
    detail = key_detail(record)
    assert detail["key_id"] == record.key_id and detail["rpm"] == 30 and detail["budget_period"] == "day"
    assert key not in json.dumps(detail, default=str)
    assert "budget_period" not in key_detail(gov.create_key(name="bare", team="ml")[0])
    old = TeamRecord("ml", budget_usd=None, rpm=10)
    new = TeamRecord("ml", budget_usd=50, rpm=10)
    assert team_change(old, new) == {"budget_usd": [None, 50]}
    assert set(team_change(None, new)) == {"budget_usd", "budget_period", "soft", "rpm", "tpm"}


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DB_PATH", str(tmp_path / "usage.sqlite"))
    monkeypatch.setenv("GATEWAY_MODE", "demo")
    monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    return tmp_path / "usage.sqlite"


def test_cli_changes_are_audited_as_the_shell_user_without_the_key(cli_env, capsys):
    assert main(["keys", "create", "--name", "ci-bot", "--team", "ml", "--rpm", "30"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["keys", "revoke", "ci-bot", "--reason", "rotated"]) == 0
    assert main(["teams", "set", "ml", "--budget-usd", "25", "--budget-period", "week"]) == 0
    assert main(["keys", "list"]) == 0  # reading changes nothing, so it is not audited
    assert main(["seed-demo", "--requests", "200", "--days", "2"]) == 0
    assert main(["seed-demo", "--purge"]) == 0
    entries = list(reversed(AuditLog(cli_env).entries()))
    assert [e.action for e in entries] == ["key.created", "key.revoked", "team.changed", "demo.loaded", "data.purged"]
    assert {e.source for e in entries} == {"cli"}
    assert {e.actor for e in entries} == {f"{getpass.getuser()}@{socket.gethostname()}"}
    created, revoked, team, loaded, purged = entries
    assert created.target == "ci-bot" and created.detail["team"] == "ml" and created.detail["rpm"] == 30
    assert revoked.detail["reason"] == "rotated"
    assert team.detail["budget_usd"] == [None, "25"] and team.detail["budget_period"] == [
        "month",
        "week",
    ]  # the key created the team
    assert loaded.detail["requests"] == 200 and purged.detail["rows"] == loaded.detail["rows"]
    assert key.startswith("gwk_") and key.encode() not in database_bytes(cli_env)


def test_a_refused_cli_change_leaves_no_entry(cli_env, capsys):
    assert main(["keys", "revoke", "no-such-key"]) == 2
    assert main(["teams", "set", "ml", "--budget-usd", "-4"]) == 2
    capsys.readouterr()
    assert AuditLog(cli_env).entries() == []
