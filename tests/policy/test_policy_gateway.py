"""Each shipped example policy, with real requests through the Python API in demo mode.

The fleet spans three geographies (see ``policy_gateway.FLEET``); keys put requests in
teams; the wall clock is set by the test. Answers come from the loopback emulators, which
echo what they were sent, so a masked prompt shows in the answer.
"""

from __future__ import annotations

import itertools

import pytest
from gateway_fixtures import HAIKU
from policy_gateway import ALL, EU, EU_HAIKU, MONDAY_10, POLICIES, SATURDAY_23, attempted, keys, policy_gateway, request, rows
from policy_gateway import served as served_by

from gateway_core.errors import PolicyDenied

CARD = "4111 1111 1111 1111"
CHEAP = {("azure", "gpt-4o-mini"), ("bedrock", EU_HAIKU), ("openai", "gpt-4.1-mini")}


@pytest.fixture
def all_examples(tmp_path):
    with policy_gateway(tmp_path / "log.sqlite", POLICIES) as gw:
        keys(gw, ana="legal", rui="research", sam="support", mia="marketing")
        yield gw


def test_an_eu_team_is_served_in_the_eu_whatever_it_asks_for(all_examples):
    gw = all_examples
    for priority, hint in itertools.product(("low_cost", "low_latency", "balanced"), (None, "azure", "bedrock", "openai")):
        result = gw.generate(request(priority=priority, provider_hint=hint), key="ana")
        assert served_by(result) in EU, (priority, hint, result.route_reason)
        assert "eu_residency_applies" in result.route_reason and f"policy {gw.policy.version}" in result.route_reason
    other = gw.generate(request(provider_hint="openai"), key="rui")
    assert served_by(other) == ("openai", "gpt-4.1-mini"), "a team without the rule may go anywhere"
    logged = rows(gw)
    assert {(r["provider"], r["model"]) for r in logged if r["key_name"] == "ana"} <= EU
    assert {r["policy_version"] for r in logged} == {gw.policy.version}
    ana = [r for r in logged if r["key_name"] == "ana"]
    assert all(r["policy_decision"] == "exclude" and "eu_residency_applies" in r["policy_rules"].split(",") for r in ana)


def test_eu_only_needs_an_eu_region_and_refuses_saying_so_without_one(tmp_path):
    # The demo's own defaults: Azure's region unset (unknown), Bedrock in eu-west-2 (London:
    # uk, not the EU). An EU team has nowhere to go, and is told why.
    defaults = {"BEDROCK_MODEL_ID": HAIKU}
    with policy_gateway(tmp_path / "a.sqlite", POLICIES / "eu_only_team.rego", fleet=defaults) as gw:
        keys(gw, ana="legal")
        assert {r.region for r in gw.runtime.routes} == {"unknown", "uk"}
        with pytest.raises(PolicyDenied) as refused:
            gw.generate(request(), key="ana")
        assert refused.value.messages == ("team legal may only use EU regions, and no EU model is configured",)
        assert refused.value.status == 403 and refused.value.code == "policy_denied"
        assert rows(gw) == [], "nothing was sent, so no attempt is logged"
        [rejected] = rows(gw, "rejected_requests")
        assert (rejected["field"], rejected["error_type"], rejected["team"]) == ("policy", "policy_denied", "legal")
    # An eu. inference profile runs in the EU whatever region the client calls.
    with policy_gateway(tmp_path / "b.sqlite", POLICIES / "eu_only_team.rego", fleet={"BEDROCK_MODEL_ID": EU_HAIKU}) as gw:
        keys(gw, ana="legal")
        assert served_by(gw.generate(request(), key="ana")) == ("bedrock", EU_HAIKU)


def test_a_prompt_with_personal_data_never_goes_to_the_listed_provider(all_examples):
    gw = all_examples
    clean = gw.generate(request(provider_hint="openai"), key="rui")
    assert served_by(clean) == ("openai", "gpt-4.1-mini")
    personal = gw.generate(request("Write to ana.lopez@example.com about the storage review.", provider_hint="openai"), key="rui")
    assert personal.provider != "openai" and "prompt_has_pii" in personal.route_reason
    with pytest.raises(PolicyDenied) as pinned:
        gw.generate(request("Mail ana.lopez@example.com", model="gpt-4.1-mini"), key="rui")
    assert pinned.value.messages == ("the policy excluded the requested model gpt-4.1-mini",)


def test_a_card_number_is_masked_before_the_provider_sees_it(all_examples):
    prompt = f"The customer paid with card {CARD} and was charged twice for March. Refund them today."
    result = all_examples.generate(request(prompt, task="summarise"), key="rui")
    assert "[card]" in result.text and CARD not in result.text, "the emulator answers from what it received"
    assert result.policy.redact and "redacted" in result.route_reason
    assert rows(all_examples)[-1]["policy_rules"].split(",").count("redact") == 1


def test_a_prompt_carrying_a_credential_is_refused_before_any_call(all_examples):
    emulators = (all_examples.emulators.azure, all_examples.emulators.bedrock)
    before = [e.stats()["requests"] for e in emulators]
    with pytest.raises(PolicyDenied, match="contains a credential"):
        all_examples.generate(request("Deploy with sk-abcdefghijklmnopqrstuvwx please"), key="rui")
    assert [e.stats()["requests"] for e in emulators] == before


def test_a_team_allow_list_limits_the_candidates_and_refuses_other_models(all_examples):
    gw = all_examples
    for hint in (None, "bedrock", "openai"):
        assert served_by(gw.generate(request(provider_hint=hint), key="sam")) == ("azure", "gpt-4o-mini")
    with pytest.raises(PolicyDenied) as refused:
        gw.generate(request(model="gpt-4o"), key="sam")
    assert refused.value.messages == ("team support may not use model gpt-4o",)
    assert served_by(gw.generate(request(model="gpt-4.1-mini"), key="mia")) == ("openai", "gpt-4.1-mini")


@pytest.mark.parametrize("at, off_hours", [(MONDAY_10, False), (SATURDAY_23, True)])
def test_only_cheap_models_outside_business_hours_cheapest_first(tmp_path, at, off_hours):
    with policy_gateway(tmp_path / "log.sqlite", POLICIES / "cheap_off_hours.rego", at=at) as gw:
        results = [gw.generate(request(priority=p, provider_hint="bedrock")) for p in ("low_latency", "balanced")]
        pinned = None
        try:
            pinned = gw.generate(request(model="gpt-4o"))
        except PolicyDenied as e:
            pinned = e
    if off_hours:
        assert all(served_by(r) == ("azure", "gpt-4o-mini") for r in results), "the cheapest first, over the hint"
        assert all(attempted(r) <= CHEAP and "off_hours" in r.route_reason for r in results)
        assert isinstance(pinned, PolicyDenied)
    else:
        assert all(r.provider == "bedrock" and "off_hours" not in r.route_reason for r in results)
        assert served_by(pinned) == ("azure", "gpt-4o")
    assert {served_by(r) for r in results} <= ALL
