"""``gateway policy check`` and ``gateway policy test``: decisions as JSON, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_core.cli import main

POLICIES = Path(__file__).resolve().parents[2] / "policies"
INPUT = {
    "principal": {"key": "key-1", "team": "legal", "user": "ana"},
    "request": {
        "task": "chat",
        "priority": "balanced",
        "provider_hint": None,
        "model": None,
        "max_tokens": 256,
        "estimated_cost_usd": 0.0004,
        "pii": ["email"],
        "prompt_chars": 420,
    },
    "candidates": [
        {"provider": "azure", "model": "gpt-4o", "region": "us", "price_per_1k_input": 0.0025, "price_per_1k_output": 0.01},
        {
            "provider": "azure",
            "model": "gpt-4o-mini",
            "region": "eu",
            "price_per_1k_input": 0.00015,
            "price_per_1k_output": 0.0006,
        },
    ],
    "time": {"hour_utc": 10, "weekday": "Tuesday"},
}


def write_json(path, value):
    path.write_text(json.dumps(value) if not isinstance(value, str) else value)
    return str(path)


def test_check_accepts_the_examples_and_says_what_they_read(capsys):
    assert main(["policy", "check", str(POLICIES)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 4 files, version ") and "input.request.pii" in out


def test_check_points_at_the_broken_line(tmp_path, capsys):
    bad = tmp_path / "bad.rego"
    bad.write_text("package gateway.routing\n\nredact if {\n  input.x ==\n}\n")
    assert main(["policy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"{bad}:4: Invalid boolean operator\n"


def test_test_prints_the_decision_and_the_route_it_leaves(tmp_path, capsys):
    assert main(["policy", "test", str(POLICIES), "--input", write_json(tmp_path / "in.json", INPUT)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decision"]["excluded"] == ["azure/gpt-4o", "openai"]
    assert "eu_residency_applies" in report["decision"]["matched"] and report["decision"]["error"] is None
    assert report["outcome"] == {"status": "routed", "candidates": ["azure/gpt-4o-mini"]}


def test_test_shows_a_refusal(tmp_path, capsys):
    secret = json.loads(json.dumps(INPUT))
    secret["request"]["pii"] = ["secret"]
    assert main(["policy", "test", str(POLICIES), "--input", write_json(tmp_path / "in.json", secret)]) == 0
    outcome = json.loads(capsys.readouterr().out)["outcome"]
    assert outcome["status"] == "refused" and outcome["http_status"] == 403


def test_an_evaluation_error_exits_1_with_the_fail_closed_decision(tmp_path, capsys):
    policy = tmp_path / "p.rego"
    policy.write_text("package gateway.routing\n\nredact := input.request.task\n")
    assert main(["policy", "test", str(policy), "--input", write_json(tmp_path / "in.json", INPUT)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert "redact must be a boolean" in report["decision"]["error"] and report["outcome"]["status"] == "refused"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "in.json: no such file"),
        ('{"principal": ', "in.json: not valid JSON (Expecting value at line 1, column 15)"),
        ("[1, 2]", "in.json: expected a JSON object (the policy's input), got list"),
        ('{"candidates": {"provider": "azure"}}', "in.json: candidates must be a list"),
        ('{"candidates": [{"provider": "azure"}]}', "in.json: candidates[0] needs string provider and model fields"),
    ],
)
def test_bad_input_files_get_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    assert main(["policy", "test", str(POLICIES), "--input", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {tmp_path}/{message}\n" and captured.out == ""


def test_a_missing_policy_gets_one_line_and_exit_2(tmp_path, capsys):
    input_file = write_json(tmp_path / "in.json", INPUT)
    assert main(["policy", "test", str(tmp_path / "nope.rego"), "--input", input_file]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.rego'}: no such file or directory\n"
