"""The shipped example policies under policies/, evaluated by regopy: tables of inputs and decisions."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from pathlib import Path

import pytest

from gateway_core.governance.policy import PolicyCandidate, build_input, dry_run
from gateway_core.governance.policy_rego import RegoPolicy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20241022-v2:0"
CANDIDATES = (
    PolicyCandidate("azure", "gpt-4o-mini", "eu", 0.00015, 0.0006),
    PolicyCandidate("azure", "gpt-4o", "us", 0.0025, 0.01),
    PolicyCandidate("bedrock", HAIKU, "eu", 0.00025, 0.00125),
    PolicyCandidate("bedrock", SONNET, "us", 0.003, 0.015),
    PolicyCandidate("openai", "gpt-4.1-mini", "us", 0.0004, 0.0016),
    PolicyCandidate("azure", "o4-mini", "unknown", None, None),
)
ALL = [f"{c.provider}/{c.model}" for c in CANDIDATES]
MONDAY_10 = datetime(2025, 1, 6, 10)


@pytest.fixture(scope="module")
def engines():
    return {
        name: RegoPolicy(POLICIES / f"{name}.rego")
        for name in ("eu_only_team", "no_pii_to_provider", "team_model_allowlist", "cheap_off_hours")
    }


def run(engine, team="research", pii=(), model=None, now=MONDAY_10, candidates=CANDIDATES):
    policy_input = build_input(
        task="chat", priority="balanced", candidates=candidates, now=now, team=team, pii=pii, model=model, key="key-1", user="ana"
    )
    decision = engine.decide(policy_input)
    assert decision.error is None
    return decision, dry_run(decision, policy_input["candidates"])


def routed(*names):
    return {"status": "routed", "candidates": list(names)}


def refused(*messages):
    return {"status": "refused", "error": "policy_denied", "http_status": 403, "messages": list(messages)}


@pytest.mark.parametrize(
    "team, candidates, outcome",
    [
        ("research-eu", CANDIDATES, routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}")),
        ("legal", CANDIDATES, routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}")),
        ("research", CANDIDATES, routed(*ALL)),
        (None, CANDIDATES, routed(*ALL)),
        (
            "research-eu",
            [c for c in CANDIDATES if c.region != "eu"],
            refused("team research-eu may only use EU regions, and no EU model is configured"),
        ),
    ],
)
def test_eu_only_team(engines, team, candidates, outcome):
    decision, got = run(engines["eu_only_team"], team=team, candidates=candidates)
    assert got == outcome
    assert ("eu_residency_applies" in decision.matched) == (team in ("research-eu", "legal"))


def test_an_eu_team_is_never_routed_outside_the_eu_whatever_the_order(engines):
    rng = random.Random(7)
    for _ in range(20):
        order = list(CANDIDATES)
        rng.shuffle(order)
        _, got = run(engines["eu_only_team"], team="legal", candidates=order)
        regions = {f"{c.provider}/{c.model}": c.region for c in CANDIDATES}
        # Every candidate left to try, fallback included, is in the EU.
        assert got["candidates"] and {regions[name] for name in got["candidates"]} == {"eu"}


@pytest.mark.parametrize(
    "pii, outcome, redact",
    [
        ((), routed(*ALL), False),
        (("email",), routed(*[n for n in ALL if not n.startswith("openai/")]), False),
        (("phone", "card"), routed(*[n for n in ALL if not n.startswith("openai/")]), True),
        (("jwt",), refused("the prompt contains a credential (a key or a token); remove it and send again"), False),
        (("email", "secret"), refused("the prompt contains a credential (a key or a token); remove it and send again"), False),
    ],
)
def test_no_pii_to_a_given_provider(engines, pii, outcome, redact):
    decision, got = run(engines["no_pii_to_provider"], pii=pii)
    assert got == outcome and decision.redact is redact


def test_no_pii_policy_refuses_when_only_the_barred_provider_is_left(engines):
    only_openai = [c for c in CANDIDATES if c.provider == "openai"]
    _, got = run(engines["no_pii_to_provider"], pii=("email",), candidates=only_openai)
    assert got == refused("the policy excluded every candidate (openai)")


@pytest.mark.parametrize(
    "team, model, outcome",
    [
        ("support", None, routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}")),
        ("support", "gpt-4o-mini", routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}")),
        ("support", "gpt-4o", refused("team support may not use model gpt-4o")),
        ("marketing", None, routed("azure/gpt-4o-mini", "openai/gpt-4.1-mini")),
        ("research", "gpt-4o", routed(*ALL)),
    ],
)
def test_model_allow_list_per_team(engines, team, model, outcome):
    _, got = run(engines["team_model_allowlist"], team=team, model=model)
    assert got == outcome


CHEAP_BY_PRICE = routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}", "openai/gpt-4.1-mini")


@pytest.mark.parametrize(
    "now, outcome, rule",
    [
        (datetime(2025, 1, 6, 10), routed(*ALL), "business_hours"),
        (datetime(2025, 1, 6, 8), routed(*ALL), "business_hours"),
        (datetime(2025, 1, 6, 7, 59), CHEAP_BY_PRICE, "off_hours"),
        (datetime(2025, 1, 6, 18), CHEAP_BY_PRICE, "off_hours"),
        (datetime(2025, 1, 11, 12), CHEAP_BY_PRICE, "off_hours"),
    ],
)
def test_only_cheap_models_outside_business_hours(engines, now, outcome, rule):
    decision, got = run(engines["cheap_off_hours"], now=now)
    assert got == outcome and rule in decision.matched


def test_the_examples_load_together_from_the_directory():
    engine = RegoPolicy(POLICIES)
    assert len(engine.sources) == 4
    decision, got = run(engine, team="research-eu", pii=("email",), now=datetime(2025, 1, 11, 12))
    assert got == routed("azure/gpt-4o-mini", f"bedrock/{HAIKU}")
    assert {"eu_residency_applies", "prompt_has_pii", "off_hours"} <= set(decision.matched)
    _, got = run(engine, team="support", pii=("card",), model="gpt-4o")
    assert got == refused("team support may not use model gpt-4o")


def test_example_decisions_are_cached_per_distinct_relevant_input(engines):
    engine = RegoPolicy(POLICIES)
    for team, pii, chars in itertools.product(("legal", "support"), ((), ("email",)), (10, 5000, 90000)):
        policy_input = build_input(
            task="chat", priority="balanced", candidates=CANDIDATES, now=MONDAY_10, team=team, pii=pii, prompt_chars=chars
        )
        engine.decide(policy_input)
    # prompt_chars is not read by any example, so 12 requests are 4 distinct decisions.
    assert (engine.stats()["misses"], engine.stats()["hits"]) == (4, 8)
