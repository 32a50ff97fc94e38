"""Pure pieces of the request path's telemetry, as tables: head sampling, the sampler variables,
and the mapping from the gateway's principal, policy decision and budgets to attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway_core.governance import BudgetStatus, Principal
from gateway_core.governance.policy import PolicyDecision
from gateway_core.telemetry.otel_env import parse_otel_env
from gateway_core.telemetry.request_path import budget_rows, decision_label, request_attributes
from gateway_core.telemetry.sampling import make_sampler, ratio_bound
from gateway_core.telemetry.wire import Parent
from gateway_core.types import GenerateRequest

HALF = ratio_bound(0.5)  # 2**63
HIGH = 0xABCDEF << 64  # high bits are ignored: only the low 64 bits decide
SAMPLED_PARENT = Parent(1, 2, True)
UNSAMPLED_PARENT = Parent(1, 2, False)


@pytest.mark.parametrize(
    "name,ratio,trace_id,parent,sampled",
    [
        ("always_on", 1.0, 5, None, True),
        ("always_on", 1.0, 5, UNSAMPLED_PARENT, True),
        ("always_off", 1.0, 5, SAMPLED_PARENT, False),
        ("traceidratio", 0.5, HIGH | (HALF - 1), None, True),
        ("traceidratio", 0.5, HIGH | HALF, None, False),
        ("traceidratio", 0.5, HALF - 1, UNSAMPLED_PARENT, True),  # not parent-based: the parent is ignored
        ("traceidratio", 0.0, 0, None, False),
        ("traceidratio", 1.0, (1 << 64) - 1, None, True),
        ("parentbased_always_on", 1.0, 5, None, True),
        ("parentbased_always_on", 1.0, 5, UNSAMPLED_PARENT, False),
        ("parentbased_always_off", 1.0, 5, None, False),
        ("parentbased_always_off", 1.0, 5, SAMPLED_PARENT, True),
        ("parentbased_traceidratio", 0.0, 5, SAMPLED_PARENT, True),
        ("parentbased_traceidratio", 1.0, 5, UNSAMPLED_PARENT, False),
        ("parentbased_traceidratio", 0.5, HALF + 1, None, False),
        ("parentbased_traceidratio", 0.5, 7, None, True),
    ],
)
def test_head_sampling_follows_the_standard_samplers(name, ratio, trace_id, parent, sampled):
    assert make_sampler(name, ratio)(trace_id, parent) is sampled


def test_ratio_sampling_keeps_about_the_asked_share_of_random_traces():
    import random

    rng = random.Random(7)
    decide = make_sampler("traceidratio", 0.1)
    kept = sum(decide(rng.getrandbits(128), None) for _ in range(20_000))
    assert 1_700 < kept < 2_300


@pytest.mark.parametrize(
    "env,sampler,ratio",
    [
        ({}, "parentbased_always_on", 1.0),
        (
            {"OTEL_TRACES_SAMPLER": "ParentBased_TraceIdRatio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
            "parentbased_traceidratio",
            0.25,
        ),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, "traceidratio", 1.0),
        ({"OTEL_TRACES_SAMPLER": "always_off", "OTEL_TRACES_SAMPLER_ARG": "junk"}, "always_off", 1.0),
    ],
)
def test_sampler_variables_are_read_with_the_standard_defaults(env, sampler, ratio):
    cfg = parse_otel_env({"OTEL_SERVICE_NAME": "gw", **env})
    assert (cfg.sampler, cfg.sample_ratio) == (sampler, ratio)


@pytest.mark.parametrize(
    "decision,label",
    [
        (None, None),
        (PolicyDecision(), "allow"),
        (PolicyDecision(denied=("no secrets to bedrock",), excluded=("bedrock",)), "deny"),
        (PolicyDecision(excluded=("bedrock",), prefer=("azure",)), "exclude"),
        (PolicyDecision(prefer=("azure/gpt-4o-mini",)), "prefer"),
        (PolicyDecision(redact=True, matched=("pii",)), "allow"),
    ],
)
def test_a_policy_decision_is_one_word_on_the_span(decision, label):
    assert decision_label(decision) == label


def test_request_attributes_name_the_team_and_key_when_a_principal_is_known():
    request = GenerateRequest(prompt="hi", task="summarise", priority="low_latency")
    assert request_attributes(request) == {"task": "summarise", "priority": "low_latency"}
    who = Principal(key_name="ci-bot", key_id="k1", team="research")
    assert request_attributes(request, who) == {
        "task": "summarise",
        "priority": "low_latency",
        "team": "research",
        "key_name": "ci-bot",
    }


def _status(owner: str, limit: str, spent: str, reserved: str) -> BudgetStatus:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return BudgetStatus(
        "scope", owner, "month", Decimal(limit), 0.8, Decimal(spent), Decimal(reserved), now, now, now, Decimal(spent)
    )


def test_budget_statuses_become_remaining_dollars_per_team_or_key():
    rows = budget_rows(
        [
            _status("team:research", "100", "30.5", "4.5"),
            _status("key:ci-bot", "10", "12", "0"),
            _status("org:everyone", "1000", "1", "0"),
        ]
    )
    assert rows == [(Decimal("65.0"), {"team": "research"}), (0, {"key_name": "ci-bot"})]
