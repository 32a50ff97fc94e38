"""The routing policy in the console: under each Playground answer, in a request's detail, and
on the admins' Policies page (the active policy, a reload that is audited, and a dry run)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from console_support import ask, assert_clean, goto, open_console
from test_console_signin import ADMIN, OPERATOR, console_as, visit

from gateway_core.governance import AuditLog

ROOT = Path(__file__).resolve().parents[2]
HEAD = "package gateway.routing\n\n"
SAMPLE = "Summarise the attached support ticket for the on-call engineer in three bullet points."


@pytest.fixture
def policy_env(console_env, monkeypatch, tmp_path):
    """The four example policies, Azure placed in Sweden (EU), Bedrock in London (UK)."""
    monkeypatch.setenv("GATEWAY_POLICY_FILE", str(ROOT / "policies"))
    monkeypatch.setenv("AZURE_OPENAI_REGION", "swedencentral")
    monkeypatch.setenv("GATEWAY_CONSOLE_ADMINS", "ada@example.com")
    monkeypatch.setenv("GATEWAY_CONSOLE_OPERATORS", "gateway-ops")
    return console_env


def page_text(at) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in [*at.main, *at.sidebar])


def test_each_answer_and_each_request_detail_show_the_policy(policy_env):
    at = ask(open_console(), "Write to ana.lopez@example.com about the storage review.")
    lines = [c.value for c in at.caption if ":material/policy:" in c.value]
    assert len(lines) == 1 and "**Policy** `" in lines[0] and "prompt\\_has\\_pii" in lines[0]
    goto(at, "requests")
    with sqlite3.connect(policy_env) as conn:
        (request_id, version) = conn.execute("SELECT request_id, policy_version FROM usage_logs").fetchone()
    assert version and version in lines[0]
    at.session_state[f"rq_open_{request_id}"] = True
    at.run()
    assert_clean(at)
    detail = at.dataframe[0].value
    assert list(detail[["policy_version", "policy_decision"]].iloc[0]) == [version, "exclude"]
    assert "prompt_has_pii" in detail["policy_rules"].iloc[0].split(",")


def test_a_refusal_by_the_policy_reads_as_one_sentence(policy_env):
    at = ask(open_console(), "Deploy it with sk-abcdefghijklmnopqrstuvwx please")
    refused = [e.value for e in at.error]
    assert len(refused) == 1 and refused[0].startswith("Refused by the routing policy (version `")
    assert "the prompt contains a credential" in refused[0]


def test_the_policies_page_is_for_admins(policy_env):
    at = visit(console_as(OPERATOR), "playground")
    with pytest.raises(ValueError):
        at.switch_page("../pages/policies.py")  # not offered to an operator at all


def test_the_policies_page_shows_the_active_policy_and_what_it_reads(policy_env):
    at = visit(console_as(ADMIN), "policies")
    text = page_text(at)
    gw_version = text.split("version `", 1)[1].split("`", 1)[0]
    assert f"**{ROOT / 'policies'}**" in text and "fails closed" in text
    assert "`input.principal.team`" in text and "`input.request.pii`" in text
    files = at.dataframe[0].value
    assert sorted(Path(f).name for f in files["file"]) == sorted(p.name for p in (ROOT / "policies").glob("*.rego"))
    assert len(gw_version) == 12 and [m.label for m in at.metric] == ["Cached decisions", "Hit rate", "Reloads"]


def test_a_dry_run_starts_from_a_real_request_and_shows_the_decision_and_route(policy_env):
    at = visit(console_as(ADMIN), "policies")
    doc = json.loads(at.text_area(key="pol_input").value)
    assert doc["request"]["prompt_chars"] == len(SAMPLE) and doc["principal"]["team"] == "default"
    regions = {(c["provider"], c["model"]): c["region"] for c in doc["candidates"]}
    assert set(regions.values()) == {"eu", "uk"}
    doc["principal"]["team"] = "legal"
    doc["time"] = {"hour_utc": 10, "weekday": "Tuesday"}
    at.text_area(key="pol_input").input(json.dumps(doc)).run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert_clean(at)
    route = at.dataframe[-1].value
    assert set(route["region"]) == {"eu"} and list(route["order"]) == list(range(1, len(route) + 1))
    assert any("eu\\_residency\\_applies" in m.value for m in at.markdown)

    doc["principal"]["team"], doc["candidates"] = "legal", [c for c in doc["candidates"] if c["region"] != "eu"]
    at.text_area(key="pol_input").input(json.dumps(doc)).run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert [e.value for e in at.error] == [
        "Refused, 403 policy_denied: team legal may only use EU regions, and no EU model is configured"
    ]
    at.text_area(key="pol_input").input("{not json").run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert at.error[0].value.startswith("Invalid **input**: input: not valid JSON")


def test_checking_the_files_picks_up_a_change_and_records_it_in_the_audit_log(console_env, monkeypatch, tmp_path):
    path = tmp_path / "live.rego"
    path.write_text(HEAD + 'exclude contains "bedrock" if true\n')
    monkeypatch.setenv("GATEWAY_POLICY_FILE", str(path))
    monkeypatch.setenv("GATEWAY_CONSOLE_ADMINS", "ada@example.com")
    at = visit(console_as(ADMIN), "policies")
    before = page_text(at).split("version `", 1)[1].split("`", 1)[0]
    path.write_text(HEAD + 'exclude contains "azure" if true\n')
    os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
    next(b for b in at.button if b.label == "Check the files now").click().run()
    assert_clean(at)
    after = page_text(at).split("version `", 1)[1].split("`", 1)[0]
    assert after != before
    [entry] = [e for e in AuditLog(console_env).entries() if e.action == "policy.changed"]
    assert (entry.actor, entry.role, entry.detail) == ("ada@example.com", "admin", {"from": before, "to": after})
