"""Routing decisions in words: tables of rankings and the one sentence each should read as."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway_core.breaker import OPEN
from gateway_core.explain import model_name, money, route_sentence
from gateway_core.router import Candidate, RouteStats, rank
from gateway_core.types import GenerateRequest

MINI = Candidate("azure", "gpt-4o-mini", 100, 200, Decimal("0.000135"))
GPT4O = Candidate("azure", "gpt-4o", 100, 200, Decimal("0.002250"))
HAIKU35 = Candidate("bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", 115, 200, Decimal("0.000892"))
UNPRICED = Candidate("bedrock", "anthropic.unknown-v1:0", 110, 200, None)


def stats(total: dict) -> RouteStats:
    samples = {k: 50 for k in total}
    return RouteStats(total, {}, samples, {})


LAT = stats({MINI.key: 900.0, GPT4O.key: 1500.0, HAIKU35.key: 400.0})


@pytest.mark.parametrize(
    "model,name",
    [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5"),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        (None, "—"),
    ],
)
def test_model_names_are_readable_and_distinct(model, name):
    assert model_name(model) == name


@pytest.mark.parametrize(
    "value,text", [(Decimal("0.0000512"), "$0.000051"), (0.0042, "$0.0042"), (1.3, "$1.30"), (0, "$0"), (None, "unpriced")]
)
def test_money_keeps_two_significant_digits(value, text):
    assert money(value) == text


def _say(cands, request, stats=LAT, **kw) -> str:
    ranking = rank(request, cands, stats, **kw)
    first = ranking.first
    return route_sentence(request, ranking, first.provider, first.model)


@pytest.mark.parametrize(
    "cands,request_kw,rank_kw,sentence",
    [
        (
            (MINI, HAIKU35),
            {"priority": "low_cost"},
            {},
            "Azure OpenAI gpt-4o-mini: cheapest for chat at $0.00014, 6.6× less than AWS Bedrock Claude 3.5 Haiku.",
        ),
        (
            (MINI, GPT4O, HAIKU35),
            {"priority": "low_cost", "task": "summarise"},
            {},
            "Azure OpenAI gpt-4o-mini: cheapest for summarise at $0.00014, 6.6× less than AWS Bedrock Claude 3.5 Haiku.",
        ),
        (
            (MINI, GPT4O),
            {"priority": "low_cost"},
            {},
            "Azure OpenAI gpt-4o-mini: cheapest for chat at $0.00014, 17× less than Azure OpenAI gpt-4o.",
        ),
        (
            (MINI, UNPRICED),
            {"priority": "low_cost"},
            {},
            "Azure OpenAI gpt-4o-mini: cheapest for chat at $0.00014; no other model has a price.",
        ),
        (
            (MINI, HAIKU35),
            {"priority": "low_latency"},
            {},
            "AWS Bedrock Claude 3.5 Haiku: fastest for chat, p90 latency 400 ms against 900 ms for Azure OpenAI gpt-4o-mini.",
        ),
        (
            (MINI, HAIKU35),
            {"priority": "low_latency"},
            {"streaming": True},
            "Azure OpenAI gpt-4o-mini: no recent time to first token samples, so it was ranked on the typical figure "
            "(500 ms) for chat.",
        ),
        (
            (MINI, HAIKU35),
            {"priority": "balanced"},
            {},
            "Azure OpenAI gpt-4o-mini: best balance of cost and speed for chat: 6.6× cheaper than AWS Bedrock "
            "Claude 3.5 Haiku, p90 900 ms against 400 ms.",
        ),
        (
            (GPT4O, HAIKU35),
            {"priority": "balanced"},
            {},
            "AWS Bedrock Claude 3.5 Haiku: cheaper (2.5× less) and faster (p90 400 ms against 1.5 s) than Azure OpenAI "
            "gpt-4o for chat.",
        ),
        (
            (MINI, HAIKU35),
            {"priority": "low_cost", "provider_hint": "bedrock"},
            {},
            "AWS Bedrock Claude 3.5 Haiku: you asked for AWS Bedrock.",
        ),
        ((MINI, GPT4O), {"priority": "low_cost", "model": "gpt-4o"}, {}, "Azure OpenAI gpt-4o: the model you pinned."),
        (
            (MINI, HAIKU35),
            {"priority": "low_cost"},
            {"breaker_states": {MINI.key: OPEN}},
            "AWS Bedrock Claude 3.5 Haiku: cheapest available for chat at $0.00089. "
            "Azure OpenAI gpt-4o-mini is paused (its circuit breaker is open).",
        ),
    ],
)
def test_each_decision_reads_as_one_plain_sentence(cands, request_kw, rank_kw, sentence):
    assert _say(cands, GenerateRequest(prompt="hello there", **request_kw), **rank_kw) == sentence


def test_balanced_without_a_speed_difference_speaks_of_cost_only():
    no_samples = RouteStats({}, {}, {}, {})
    sentence = _say((MINI, HAIKU35), GenerateRequest(prompt="hi", priority="balanced"), stats=no_samples)
    assert sentence == (
        "Azure OpenAI gpt-4o-mini: best balance of cost and speed for chat: 6.6× cheaper than AWS Bedrock Claude 3.5 Haiku "
        "at a similar speed (p90 2.0 s)."
    )


def test_a_fallback_says_who_failed_first():
    ranking = rank(GenerateRequest(prompt="hi", priority="low_cost"), (MINI, HAIKU35), LAT)
    sentence = route_sentence(GenerateRequest(prompt="hi"), ranking, HAIKU35.provider, HAIKU35.model)
    assert (
        sentence
        == "AWS Bedrock Claude 3.5 Haiku: took over after Azure OpenAI gpt-4o-mini failed (the attempts are listed below)."
    )


def test_exploration_is_named_as_such():
    few = RouteStats({MINI.key: 900.0, HAIKU35.key: 400.0}, {}, {MINI.key: 2, HAIKU35.key: 50}, {})
    request = GenerateRequest(prompt="hi", priority="low_latency")
    ranking = rank(request, (MINI, HAIKU35), few, explore_roll=0.0)
    assert ranking.explored == MINI.label
    assert "tried now and then so its latency figures stay current" in route_sentence(request, ranking, "azure", "gpt-4o-mini")
