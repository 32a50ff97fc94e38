"""Circuit breaker behaviour, driven by a hand-wound clock."""

from __future__ import annotations

import threading

from gateway_core.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from gateway_core.errors import BadRequest, RateLimited

KEY = ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")
OTHER = ("azure", "gpt-4o-mini")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def breaker(**kw):
    clock = Clock()
    return CircuitBreaker(clock=clock, **kw), clock


def test_opens_after_consecutive_failures():
    b, _ = breaker(consecutive_failures=3)
    for _ in range(2):
        b.record_failure(KEY)
    assert b.state(KEY) == CLOSED and b.allow(KEY)
    b.record_failure(KEY)
    assert b.state(KEY) == OPEN and not b.allow(KEY)
    assert b.state(OTHER) == CLOSED and b.allow(OTHER)


def test_a_success_resets_the_consecutive_count():
    b, _ = breaker(consecutive_failures=3, min_calls=100)
    for _ in range(10):
        b.record_failure(KEY)
        b.record_failure(KEY)
        b.record_success(KEY)
    assert b.state(KEY) == CLOSED


def test_opens_on_failure_ratio_over_the_window():
    b, _ = breaker(consecutive_failures=100, failure_ratio=0.5, window=10, min_calls=10)
    for _ in range(4):
        b.record_failure(KEY)
        b.record_success(KEY)
    assert b.state(KEY) == CLOSED  # 4/8 failed, but fewer than min_calls recorded
    b.record_success(KEY)
    b.record_failure(KEY)  # 5/10
    assert b.state(KEY) == OPEN


def test_ratio_only_counts_the_recent_window():
    b, _ = breaker(consecutive_failures=100, failure_ratio=0.5, window=10, min_calls=10)
    for _ in range(4):
        b.record_failure(KEY)
    for _ in range(20):
        b.record_success(KEY)
    for _ in range(4):
        b.record_failure(KEY)
    assert b.state(KEY) == CLOSED  # the old failures slid out of the window


def test_goes_half_open_after_cooldown_and_lets_exactly_one_probe_through():
    b, clock = breaker(consecutive_failures=1, cooldown_s=30.0)
    b.record_failure(KEY)
    clock.now += 29.9
    assert not b.allow(KEY) and b.state(KEY) == OPEN
    clock.now += 0.2
    assert b.state(KEY) == HALF_OPEN
    grants = [b.allow(KEY) for _ in range(5)]
    assert grants == [True, False, False, False, False]


def test_exactly_one_probe_even_with_concurrent_callers():
    b, clock = breaker(consecutive_failures=1, cooldown_s=1.0)
    b.record_failure(KEY)
    clock.now += 1.0
    results = []
    barrier = threading.Barrier(8)

    def call():
        barrier.wait()
        results.append(b.allow(KEY))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_successful_probe_closes_the_breaker():
    b, clock = breaker(consecutive_failures=1, cooldown_s=5.0)
    b.record_failure(KEY)
    clock.now += 5.0
    assert b.allow(KEY)
    b.record_success(KEY)
    assert b.state(KEY) == CLOSED and b.allow(KEY) and b.allow(KEY)


def test_failed_probe_reopens_for_a_fresh_cooldown():
    b, clock = breaker(consecutive_failures=1, cooldown_s=5.0)
    b.record_failure(KEY)
    clock.now += 5.0
    assert b.allow(KEY)
    b.record_failure(KEY)
    assert b.state(KEY) == OPEN
    clock.now += 4.0
    assert not b.allow(KEY)
    clock.now += 1.0
    assert b.allow(KEY)


def test_non_retryable_errors_never_open_the_breaker():
    b, _ = breaker(consecutive_failures=2, min_calls=2)
    for _ in range(10):
        b.record(KEY, BadRequest("bedrock HTTP 400: bad", provider="bedrock", status=400))
        b.record_failure(KEY, retryable=False)
    assert b.state(KEY) == CLOSED
    b.record(KEY, RateLimited("bedrock HTTP 429", provider="bedrock"))
    b.record(KEY, RateLimited("bedrock HTTP 429", provider="bedrock"))
    assert b.state(KEY) == OPEN


def test_probe_that_never_reports_is_given_up_after_another_cooldown():
    b, clock = breaker(consecutive_failures=1, cooldown_s=10.0)
    b.record_failure(KEY)
    clock.now += 10.0
    assert b.allow(KEY)
    clock.now += 5.0
    assert not b.allow(KEY)
    clock.now += 5.0
    assert b.allow(KEY)


def test_transitions_and_snapshot_tell_the_story():
    b, clock = breaker(consecutive_failures=1, cooldown_s=10.0)
    b.record_success(OTHER)
    b.record_failure(KEY)
    clock.now += 10.0
    assert b.snapshot() == {OTHER: CLOSED, KEY: HALF_OPEN}
    b.allow(KEY)
    b.record_success(KEY)
    assert [(k, f, t) for k, f, t, _ in b.transitions] == [
        (KEY, CLOSED, OPEN),
        (KEY, OPEN, HALF_OPEN),
        (KEY, HALF_OPEN, CLOSED),
    ]
    assert [at for *_, at in b.transitions] == [1000.0, 1010.0, 1010.0]


def test_after_closing_old_failures_do_not_count_again():
    b, clock = breaker(consecutive_failures=3, cooldown_s=1.0)
    for _ in range(3):
        b.record_failure(KEY)
    clock.now += 1.0
    b.allow(KEY)
    b.record_success(KEY)
    b.record_failure(KEY)
    b.record_failure(KEY)
    assert b.state(KEY) == CLOSED
