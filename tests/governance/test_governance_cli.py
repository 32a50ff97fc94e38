"""``gateway keys`` and ``gateway teams``: what an operator types, sees, and is told when a flag is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from gateway_core.cli import main
from gateway_core.governance import Governance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("GATEWAY_DB_PATH", str(tmp_path / "usage.sqlite"))
    monkeypatch.setenv("GATEWAY_MODE", "demo")
    monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    return tmp_path / "usage.sqlite"


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's own exits
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_create_prints_the_key_once_and_it_authenticates(env, capsys):
    code, out, err = run(
        capsys,
        "keys",
        "create",
        "--name",
        "ci-bot",
        "--team",
        "ml",
        "--user",
        "ana",
        "--rpm",
        "30",
        "--tpm",
        "20000",
        "--budget-usd",
        "5",
        "--budget-period",
        "day",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--providers",
        "azure",
        "--expires",
        "2099-01-01",
    )
    assert code == 0
    key = out.strip()
    assert key.startswith("gwk_") and "\n" not in key
    assert "only time" in err and key not in err
    with Governance.open(env) as gov:
        p = gov.authenticate(key)
        assert (p.key_name, p.team, p.user) == ("ci-bot", "ml", "ana")
        assert p.models == frozenset({"gpt-4o-mini", "gpt-4o"}) and p.providers == frozenset({"azure"})
        assert [(r.metric, r.limit) for r in p.rates] == [("requests", 30), ("tokens", 20000)]
        assert [(b.owner, b.limit_usd, b.period) for b in p.budgets] == [("key:ci-bot", Decimal(5), "day")]
        (record,) = gov.keys()
        assert record.expires_at is not None
    code, out, _ = run(capsys, "keys", "list")
    assert code == 0 and "ci-bot" in out and "gpt-4o-mini,gpt-4o" in out and "2099-01-01" in out
    assert key not in out and key.split("_", 2)[2] not in out


def test_keys_revoke_takes_a_reason_and_the_list_shows_it(env, capsys):
    _, out, _ = run(capsys, "keys", "create", "--name", "old", "--team", "ml")
    key = out.strip()
    code, out, _ = run(capsys, "keys", "revoke", "old", "--reason", "rotated")
    assert code == 0 and "revoked key 'old'" in out
    _, out, _ = run(capsys, "keys", "list")
    assert "revoked" in out and "rotated" in out
    with Governance.open(env) as gov, pytest.raises(Exception) as e:
        gov.authenticate(key)
    assert getattr(e.value, "code", None) == "key_revoked"


def test_static_keys_are_listed_by_name_only(env, capsys, monkeypatch):
    monkeypatch.setenv("GATEWAY_API_KEYS", "first-static-secret,second-static-secret")
    _, out, _ = run(capsys, "keys", "list")
    assert "static-1" in out and "static-2" in out and "static-secret" not in out


def test_teams_set_and_list_show_budget_spend_and_limits(env, capsys):
    code, out, _ = run(
        capsys, "teams", "set", "ml", "--budget-usd", "100", "--budget-period", "month", "--soft", "0.75", "--rpm", "600"
    )
    assert code == 0 and "$100.00 per month" in out and "75%" in out
    with Governance.open(env) as gov:
        p = gov.principal_for(gov.create_key(name="bot", team="ml")[0].name)
        gov.settle(gov.admit(p, candidates_worst_case=Decimal("30"), tokens=1), Decimal("25"))
    code, out, _ = run(capsys, "teams", "set", "ml", "--tpm", "90000")
    assert code == 0 and "$100.00" in out and "rpm 600" in out and "tpm 90000" in out  # others kept
    _, out, _ = run(capsys, "teams", "list")
    header, row = out.strip().splitlines()
    assert header.split()[:5] == ["team", "budget", "period", "soft", "spent"]
    assert row.split()[:7] == ["ml", "$100.00", "month", "75%", "$25.00", "$0.00", "25%"]
    code, out, _ = run(capsys, "teams", "set", "ml", "--budget-usd", "none", "--rpm", "none")
    assert code == 0 and "no budget" in out and "rpm -" in out


@pytest.mark.parametrize(
    "argv, flag",
    [
        (("keys", "create", "--team", "ml"), "--name"),
        (("keys", "create", "--name", "a", "--team", "ml", "--rpm", "many"), "--rpm"),
        (("keys", "create", "--name", "a", "--team", "ml", "--tpm", "0"), "--tpm"),
        (("keys", "create", "--name", "a", "--team", "ml", "--budget-usd", "-5"), "--budget-usd"),
        (("keys", "create", "--name", "a", "--team", "ml", "--budget-period", "year"), "--budget-period"),
        (("keys", "create", "--name", "a", "--team", "ml", "--expires", "someday"), "--expires"),
        (("keys", "create", "--name", "a", "--team", "ml", "--expires", "2001-01-01"), "--expires"),
        (("keys", "create", "--name", "a", "--team", "ml", "--providers", "azure,gcp"), "--providers"),
        (("keys", "create", "--name", "a", "--team", "ml", "--models", "a,,b"), "--models"),
        (("keys", "create", "--name", "no spaces", "--team", "ml"), "--name"),
        (("keys", "create", "--name", "a", "--team", "m/l"), "--team"),
        (("keys", "revoke", "nobody"), "NAME"),
        (("keys", "revoke", "a", "--reason", "x" * 300), "--reason"),
        (("teams", "set", "ml", "--soft", "1.5"), "--soft"),
        (("teams", "set", "ml", "--soft", "high"), "--soft"),
        (("teams", "set", "ml", "--budget-usd", "ten"), "--budget-usd"),
        (("teams", "set", "ml team", "--rpm", "5"), "TEAM"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag_with_exit_2_and_writes_nothing(env, capsys, argv, flag):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and flag in lines[0]
    assert "Traceback" not in err
    with Governance.open(env) as gov:
        assert gov.keys() == [] and gov.teams() == []


def test_the_installed_command_creates_and_lists_keys(env):
    run_env = dict(os.environ, PYTHONPATH=ROOT)
    made = subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", "keys", "create", "--name", "ops", "--team", "sre"],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
        cwd=env.parent,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    listed = subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", "keys", "list"],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
        cwd=env.parent,
    )
    assert listed.returncode == 0 and "ops" in listed.stdout and key not in listed.stdout + listed.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", "keys", "create", "--name", "x", "--team", "sre", "--rpm", "-1"],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
        cwd=env.parent,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--rpm" in bad.stderr


def test_generate_runs_as_a_named_key_and_is_held_to_its_limits(env, capsys, monkeypatch):
    monkeypatch.setenv("GATEWAY_EMULATOR_PROFILE", "zero")
    assert run(capsys, "keys", "create", "--name", "cli-user", "--team", "ops", "--rpm", "1")[0] == 0
    code, out, err = run(capsys, "generate", "--key", "cli-user", "--max-tokens", "16", "Say hello")
    assert code == 0, err
    assert "key      : cli-user (team ops)" in out
    assert "limits   : x-ratelimit-remaining-requests: 0" in out
    code, out, err = run(capsys, "generate", "--key", "cli-user", "--max-tokens", "16", "Say hello")
    assert code == 1 and "key 'cli-user' is over its limit of 1 requests per minute" in err
    code, out, err = run(capsys, "generate", "--key", "nobody", "Say hello")
    assert code == 1 and "no API key named 'nobody'" in err
