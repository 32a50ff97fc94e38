"""Readiness and the log-failure policy as pure rules, tested with tables."""

from __future__ import annotations

import pytest

from gateway_core import ConfigError, Settings
from gateway_core.readiness import Reason, evaluate, providers_reason, usage_log_reason
from gateway_core.usage.health import FAILING, OK, SPILLING, LogHealth


def _health(state: str, **kw) -> LogHealth:
    base = dict(
        state=state,
        policy="serve",
        problem=None if state == OK else "full: the database or its disk is full",
        spill_problem="No space left on device" if state == FAILING else None,
        queue_depth=0,
        queue_mb=0.0,
        queue_limit_mb=64.0,
        spilled_pending=0,
        spilled_total=0,
        replayed_total=0,
        lost_total=0,
    )
    return LogHealth(**{**base, **kw})


def test_a_healthy_log_gives_no_reason_and_a_failing_one_gives_its_counts():
    assert usage_log_reason(_health(OK)) is None
    reason = usage_log_reason(_health(SPILLING, spilled_pending=12, spilled_total=15, queue_depth=3))
    assert reason.check == "usage_log"
    assert (reason.details["spilled_pending"], reason.details["spilled_total"], reason.details["queue_depth"]) == (12, 15, 3)
    assert "full" in reason.message and "12 rows waiting in spill files" in reason.message
    failing = usage_log_reason(_health(FAILING, lost_total=7))
    assert failing.details["lost_total"] == 7 and "No space left on device" in failing.message


@pytest.mark.parametrize(
    "states, ready",
    [
        ({}, True),
        ({"azure/a": "closed", "bedrock/b": "open"}, True),
        ({"azure/a": "half_open", "bedrock/b": "open"}, True),
        ({"azure/a": "open", "bedrock/b": "open"}, False),
    ],
)
def test_not_ready_only_when_every_breaker_is_open(states, ready):
    assert (providers_reason(states) is None) is ready


def test_evaluate_collects_every_reason_in_order():
    result = evaluate([lambda: None, lambda: Reason("a", "first"), lambda: Reason("b", "second")])
    assert not result.ready and [r["check"] for r in result.as_dict()["reasons"]] == ["a", "b"]
    assert evaluate([lambda: None]).as_dict() == {"status": "ready", "reasons": []}


@pytest.mark.parametrize(
    "env, policy",
    [
        ({"GATEWAY_MODE": "demo"}, "serve"),
        ({}, "serve"),  # auto with nothing configured: every provider emulated
        ({"AZURE_OPENAI_ENDPOINT": "https://x.example", "AZURE_OPENAI_API_KEY": "k-123456"}, "refuse"),  # auto, Azure live
        ({"GATEWAY_MODE": "demo", "GATEWAY_ON_LOG_FAILURE": "Refuse"}, "refuse"),
        (
            {
                "GATEWAY_MODE": "live",
                "AZURE_OPENAI_ENDPOINT": "https://x.example",
                "AZURE_OPENAI_API_KEY": "k-123456",
                "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "s-123456",
            },
            "refuse",
        ),
    ],
)
def test_the_log_failure_policy_defaults_to_serve_for_demos_and_refuse_for_live_traffic(env, policy):
    assert Settings.from_mapping(env).log_failure_policy() == policy


@pytest.mark.parametrize(
    "variable, value",
    [
        ("GATEWAY_ON_LOG_FAILURE", "drop"),
        ("GATEWAY_LOG_QUEUE_MB", "0"),
        ("GATEWAY_DB_BUSY_TIMEOUT_S", "-1"),
        ("GATEWAY_DB_MAX_MB", "none"),
    ],
)
def test_bad_log_settings_name_their_variable(variable, value):
    with pytest.raises(ConfigError) as raised:
        Settings.from_mapping({variable: value})
    assert raised.value.variable == variable
