"""The pure half of routing policy: reading a policy's answer, and applying a decision to a route."""

from __future__ import annotations

import logging
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gateway_core.errors import ConfigError
from gateway_core.governance.policy import (
    FAIL_CLOSED_MESSAGE,
    PolicyCandidate,
    PolicyContractError,
    PolicyDecision,
    PolicyDenied,
    PolicySettings,
    apply_decision,
    build_input,
    decision_from_document,
    dry_run,
    failed_decision,
    load_policy,
)

ROUTE = [("azure", "gpt-4o-mini"), ("bedrock", "haiku"), ("azure", "gpt-4o"), ("bedrock", "sonnet")]


@pytest.mark.parametrize(
    "doc, expected",
    [
        ({}, PolicyDecision(version="v1")),
        ({"deny": ["no", "never"]}, PolicyDecision(denied=("no", "never"), matched=("deny",), version="v1")),
        (
            {"exclude": ["bedrock", "azure/gpt-4o"], "deny": []},
            PolicyDecision(excluded=("azure/gpt-4o", "bedrock"), matched=("exclude",), version="v1"),
        ),
        (
            {"prefer": ["bedrock/haiku", "azure", "bedrock/haiku"]},
            PolicyDecision(prefer=("bedrock/haiku", "azure"), matched=("prefer",), version="v1"),
        ),
        (
            {"redact": True, "eu_team": True, "off_hours": False, "limits": {"a": 1}, "teams": ["x"]},
            PolicyDecision(redact=True, matched=("eu_team", "redact"), version="v1"),
        ),
        ({"redact": False, "prefer": [], "exclude": []}, PolicyDecision(version="v1")),
    ],
    ids=["nothing", "deny", "exclude", "prefer-deduplicated", "redact-and-helpers", "empty-rules"],
)
def test_policy_document_becomes_a_typed_decision(doc, expected):
    assert decision_from_document(doc, "v1") == expected


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"deny": {"msg": True}}, "v0 syntax"),
        ({"deny": "no"}, "deny must be a set of strings"),
        ({"exclude": [1, 2]}, "exclude must be a set of strings"),
        ({"prefer": "azure"}, "prefer must be an array of strings"),
        ({"redact": "yes"}, "redact must be a boolean"),
        ([], "must be an object of rules"),
    ],
)
def test_an_answer_off_the_contract_is_an_evaluation_error(doc, message):
    with pytest.raises(PolicyContractError, match=message):
        decision_from_document(doc, "v1")


@pytest.mark.parametrize(
    "decision, expected",
    [
        (PolicyDecision(), ROUTE),
        (PolicyDecision(excluded=("bedrock",)), [("azure", "gpt-4o-mini"), ("azure", "gpt-4o")]),
        (PolicyDecision(excluded=("azure/gpt-4o",)), [("azure", "gpt-4o-mini"), ("bedrock", "haiku"), ("bedrock", "sonnet")]),
        (PolicyDecision(excluded=("azure/gpt",)), ROUTE),
        (
            PolicyDecision(prefer=("bedrock",)),
            [("bedrock", "haiku"), ("bedrock", "sonnet"), ("azure", "gpt-4o-mini"), ("azure", "gpt-4o")],
        ),
        (
            PolicyDecision(prefer=("bedrock/sonnet", "azure/gpt-4o")),
            [("bedrock", "sonnet"), ("azure", "gpt-4o"), ("azure", "gpt-4o-mini"), ("bedrock", "haiku")],
        ),
        (
            PolicyDecision(prefer=("bedrock/sonnet", "unknown/model"), excluded=("bedrock/sonnet",)),
            [("azure", "gpt-4o-mini"), ("bedrock", "haiku"), ("azure", "gpt-4o")],
        ),
    ],
    ids=[
        "allow",
        "exclude-provider",
        "exclude-model",
        "no-prefix-match",
        "prefer-provider",
        "prefer-models",
        "excluded-beats-preferred",
    ],
)
def test_decision_excludes_then_reorders_keeping_the_ranking_among_the_rest(decision, expected):
    assert apply_decision(decision, ROUTE) == expected


def test_model_ids_with_slashes_match_whole():
    arn = "arn:aws:bedrock:eu-west-1:1:inference-profile/eu.anthropic.claude-3-haiku"
    route = [("bedrock", arn), ("bedrock", "other")]
    assert apply_decision(PolicyDecision(excluded=(f"bedrock/{arn}",)), route) == [("bedrock", "other")]
    assert apply_decision(PolicyDecision(prefer=("bedrock/other",)), route) == [("bedrock", "other"), ("bedrock", arn)]


def test_candidates_may_be_tuples_mappings_or_objects():
    Candidate = namedtuple("Candidate", "provider model")

    class Obj:
        provider, model = "bedrock", "haiku"

    decision = PolicyDecision(excluded=("azure",))
    assert apply_decision(decision, [{"provider": "azure", "model": "m"}, {"provider": "bedrock", "model": "h"}]) == [
        {"provider": "bedrock", "model": "h"}
    ]
    assert apply_decision(decision, [Candidate("azure", "m"), Candidate("bedrock", "h")]) == [Candidate("bedrock", "h")]
    obj = Obj()
    assert apply_decision(decision, [obj]) == [obj]


def test_deny_refuses_with_403_policy_denied_and_the_messages():
    decision = PolicyDecision(denied=("team x may not", "and not now"), matched=("deny",), version="abc")
    with pytest.raises(PolicyDenied) as err:
        apply_decision(decision, ROUTE)
    assert (err.value.status, err.value.type_name) == (403, "policy_denied")
    assert err.value.messages == ("team x may not", "and not now")
    assert err.value.message == "team x may not; and not now"
    assert err.value.policy_version == "abc" and err.value.matched == ("deny",)


def test_excluding_every_candidate_is_a_policy_refusal_not_a_provider_failure():
    with pytest.raises(PolicyDenied, match="excluded every candidate") as err:
        apply_decision(PolicyDecision(excluded=("azure", "bedrock"), version="v9"), ROUTE)
    assert err.value.status == 403 and err.value.policy_version == "v9"
    assert apply_decision(PolicyDecision(excluded=("azure",)), []) == []


def test_dry_run_shows_the_route_or_the_refusal():
    assert dry_run(PolicyDecision(prefer=("bedrock/sonnet",)), ROUTE[:2] + ROUTE[3:]) == {
        "status": "routed",
        "candidates": ["bedrock/sonnet", "azure/gpt-4o-mini", "bedrock/haiku"],
    }
    refused = dry_run(PolicyDecision(denied=("no",)), ROUTE)
    assert refused == {"status": "refused", "error": "policy_denied", "http_status": 403, "messages": ["no"]}


def test_summary_names_version_and_only_what_the_policy_did():
    assert PolicyDecision(version="abc").summary() == "policy abc"
    decision = PolicyDecision(excluded=("bedrock",), prefer=("azure",), redact=True, matched=("eu", "exclude"), version="abc")
    assert decision.summary() == "policy abc; excluded bedrock; preferred azure; redacted; rules eu, exclude"
    assert decision.to_dict()["excluded"] == ["bedrock"] and decision.to_dict()["redact"] is True


def test_failed_evaluation_refuses_by_default_and_allows_only_when_fail_open(caplog):
    with caplog.at_level(logging.WARNING, logger="gateway_core.governance.policy"):
        closed = failed_decision("boom", version="v1", fail_open=False)
        opened = failed_decision("boom", version="v1", fail_open=True)
    assert closed.denied == (FAIL_CLOSED_MESSAGE,) and closed.error == "boom" and not closed.allowed
    assert opened.allowed and opened.error == "boom"
    assert [r.message.endswith(("(fail-closed)", "(fail-open)")) for r in caplog.records] == [True, True]
    with pytest.raises(PolicyDenied):
        apply_decision(closed, ROUTE)


def test_input_carries_the_contract_fields_in_plain_json_types():
    paris = timezone(timedelta(hours=1))
    got = build_input(
        task="chat",
        priority="balanced",
        now=datetime(2025, 1, 5, 0, 30, tzinfo=paris),
        candidates=[PolicyCandidate("azure", "gpt-4o-mini", "eu", Decimal("0.00015"), Decimal("0.0006"))],
        estimated_cost_usd=Decimal("0.25"),
        pii=["phone", "email", "phone"],
        prompt_chars=42,
        key="key-1",
        team="legal",
        user="ana",
        model="gpt-4o-mini",
        max_tokens=100,
    )
    assert got == {
        "principal": {"key": "key-1", "team": "legal", "user": "ana"},
        "request": {
            "task": "chat",
            "priority": "balanced",
            "provider_hint": None,
            "model": "gpt-4o-mini",
            "max_tokens": 100,
            "estimated_cost_usd": 0.25,
            "pii": ["email", "phone"],
            "prompt_chars": 42,
        },
        "candidates": [
            {
                "provider": "azure",
                "model": "gpt-4o-mini",
                "region": "eu",
                "price_per_1k_input": 0.00015,
                "price_per_1k_output": 0.0006,
            }
        ],
        # 00:30 in Paris on Sunday is 23:30 UTC on Saturday.
        "time": {"hour_utc": 23, "weekday": "Saturday"},
    }
    naive = build_input(task="chat", priority="low_cost", candidates=[], now=datetime(2025, 1, 6, 9))
    assert naive["time"] == {"hour_utc": 9, "weekday": "Monday"}


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, dict(policy_file=None, opa_url=None, fail_open=False, opa_timeout_s=0.5)),
        (
            {"GATEWAY_POLICY_FILE": " policies/ ", "GATEWAY_POLICY_FAIL_OPEN": "true", "GATEWAY_OPA_URL": ""},
            dict(policy_file="policies/", opa_url=None, fail_open=True, opa_timeout_s=0.5),
        ),
        (
            {"GATEWAY_OPA_URL": "http://opa:8181", "GATEWAY_OPA_TIMEOUT_S": "0.2"},
            dict(policy_file=None, opa_url="http://opa:8181", fail_open=False, opa_timeout_s=0.2),
        ),
    ],
)
def test_policy_settings_from_the_environment(env, expected):
    assert PolicySettings.from_mapping(env).model_dump() == expected


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"GATEWAY_POLICY_FAIL_OPEN": "sometimes"}, "GATEWAY_POLICY_FAIL_OPEN"),
        ({"GATEWAY_OPA_URL": "opa:8181"}, "GATEWAY_OPA_URL"),
        ({"GATEWAY_OPA_TIMEOUT_S": "-1"}, "GATEWAY_OPA_TIMEOUT_S"),
    ],
)
def test_bad_policy_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as err:
        PolicySettings.from_mapping(env)
    assert err.value.variable == variable


def test_a_policy_file_and_an_opa_server_together_are_refused():
    settings = PolicySettings.from_mapping({"GATEWAY_OPA_URL": "http://opa:8181", "GATEWAY_POLICY_FILE": "p.rego"})
    with pytest.raises(ConfigError) as err:
        load_policy(settings)
    assert err.value.variable == "GATEWAY_OPA_URL" and "not both" in err.value.message


def test_no_policy_configured_means_no_engine():
    assert load_policy(PolicySettings.from_mapping({})) is None


# --- a decision on the ranked route (planning.with_policy) ------------------------------------


def _ranking():
    from gateway_core.router import Candidate, Ranking

    ordered = tuple(Candidate(p, m, 10, 10, Decimal("0.001")) for p, m in ROUTE)
    latencies = {c.label: (200.0, False) for c in ordered}
    return Ranking(
        ordered, "balanced: azure/gpt-4o-mini first", {c.label: 1.0 for c in ordered}, (), "balanced", False, latencies
    )


@pytest.mark.parametrize(
    "decision, order, reason_tail",
    [
        (None, ROUTE, "balanced: azure/gpt-4o-mini first"),
        (PolicyDecision(version="v1"), ROUTE, "; policy v1"),
        (
            PolicyDecision(prefer=("bedrock/sonnet", "bedrock"), matched=("prefer",), version="v2"),
            [("bedrock", "sonnet"), ("bedrock", "haiku"), ("azure", "gpt-4o-mini"), ("azure", "gpt-4o")],
            "; policy v2; preferred bedrock/sonnet, bedrock; rules prefer",
        ),
        (
            PolicyDecision(redact=True, matched=("prompt_has_card", "redact"), version="v3"),
            ROUTE,
            "; policy v3; redacted; rules prompt_has_card, redact",
        ),
    ],
    ids=["no-policy", "allow", "prefer", "redact"],
)
def test_the_ranked_route_takes_the_policy_preferences_and_its_reason_says_what_it_did(decision, order, reason_tail):
    from gateway_core.planning import with_policy

    before = _ranking()
    ranking = with_policy(decision, before)
    assert [c.key for c in ranking.ordered] == order
    assert (ranking.priority, ranking.latencies, ranking.scores) == (before.priority, before.latencies, before.scores)
    assert ranking.reason.endswith(reason_tail) and ranking.reason.startswith("balanced: azure/gpt-4o-mini first")


@pytest.mark.parametrize(
    "decision, label",
    [
        (PolicyDecision(), "allow"),
        (PolicyDecision(redact=True), "allow"),
        (PolicyDecision(prefer=("azure",)), "prefer"),
        (PolicyDecision(excluded=("azure",), prefer=("bedrock",)), "exclude"),
        (PolicyDecision(denied=("no",), excluded=("azure",)), "deny"),
    ],
)
def test_a_decision_has_one_word_for_the_log_and_the_span(decision, label):
    from gateway_core.usage.rows import policy_row

    assert decision.label == label
    assert policy_row(PolicyDecision(excluded=("azure",), matched=("a", "b"), version="v9")) == {
        "policy_version": "v9",
        "policy_decision": "exclude",
        "policy_rules": "a,b",
    }
