"""GCRA rate limits on an injected clock, the OpenAI reset format, and the header values."""

from __future__ import annotations

import pytest

from gateway_core.governance.ratelimit import RateLimit, gcra, headers, openai_duration

T0 = 1_800_000_000.0


def run(limit: int, arrivals: list[tuple[float, int]]) -> list[bool]:
    """Feed (seconds after T0, cost) arrivals through one limit; the admitted flags, in order."""
    tat, out = None, []
    for at, cost in arrivals:
        d = gcra(limit, tat, cost, T0 + at)
        if d.allowed:
            tat = d.tat_ns
        out.append(d.allowed)
    return out


def test_a_full_minute_of_requests_may_arrive_at_once_then_no_more():
    assert run(10, [(0, 1)] * 11) == [True] * 10 + [False]


def test_requests_come_back_at_the_configured_rate():
    # 60 rpm: one request per second once the burst is spent.
    burst = [(0, 1)] * 60
    assert run(60, burst + [(0.5, 1), (1.0, 1), (1.5, 1), (2.0, 1)]) == [True] * 60 + [False, True, False, True]


def test_a_quiet_minute_restores_the_whole_burst():
    assert run(5, [(0, 1)] * 5 + [(60, 1)] * 5 + [(60, 1)]) == [True] * 10 + [False]


def test_refusal_says_exactly_how_long_to_wait():
    tat = None
    for _ in range(10):
        tat = gcra(10, tat, 1, T0).tat_ns
    refused = gcra(10, tat, 1, T0 + 1.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(5.0)
    assert refused.remaining == 0
    assert gcra(10, tat, 1, T0 + 1.0 + refused.retry_after).allowed


def test_tokens_per_minute_charges_each_request_its_tokens():
    # 10k tpm: 4k + 4k fit, a third 4k does not until 2k tokens' worth of time (12 s) has passed.
    assert run(10_000, [(0, 4000), (0, 4000), (0, 4000), (11.9, 4000), (12.0, 4000)]) == [True, True, False, False, True]


def test_a_request_larger_than_the_limit_can_never_fit_and_says_so():
    d = gcra(1000, None, 1001, T0)
    assert not d.allowed and d.retry_after is None


def test_refusal_leaves_the_state_unchanged():
    d1 = gcra(2, None, 1, T0)
    d2 = gcra(2, d1.tat_ns, 1, T0)
    d3 = gcra(2, d2.tat_ns, 1, T0)
    assert not d3.allowed and d3.tat_ns == d2.tat_ns


@pytest.mark.parametrize(
    "limit, used, remaining, reset",
    [
        (60, 1, 59, 1.0),
        (60, 60, 0, 60.0),
        (7, 7, 0, 60.0),  # 60/7 added seven times still fits: no float creep
        (100_000, 2500, 97_500, 1.5),
    ],
)
def test_remaining_and_reset_after_a_burst(limit, used, remaining, reset):
    tat, d = None, None
    for _ in range(used):
        d = gcra(limit, tat, 1, T0)
        assert d.allowed
        tat = d.tat_ns
    assert d.remaining == remaining
    assert d.reset_s == pytest.approx(reset)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (0.02, "20ms"),
        (0.0201, "21ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (59.9986, "59.999s"),
        (59.9994, "1m0s"),
        (60, "1m0s"),
        (90.5, "1m30.5s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (3725.25, "1h2m5.25s"),
        (-3, "0s"),
    ],
)
def test_resets_are_formatted_like_openai(seconds, text):
    assert openai_duration(seconds) == text


def test_headers_report_the_tightest_limit_of_each_kind():
    key_rpm = RateLimit("key:k:requests", "key:a", "requests", 10)
    team_rpm = RateLimit("team:t:requests", "team:t", "requests", 1000)
    team_tpm = RateLimit("team:t:tokens", "team:t", "tokens", 50_000)
    decisions = [(key_rpm, gcra(10, None, 1, T0)), (team_rpm, gcra(1000, None, 1, T0)), (team_tpm, gcra(50_000, None, 800, T0))]
    assert headers(decisions) == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-limit-tokens": "50000",
        "x-ratelimit-remaining-tokens": "49200",
        "x-ratelimit-reset-tokens": "960ms",
    }
    assert headers([]) == {}
