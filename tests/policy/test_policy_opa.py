"""The external-OPA path, against a stand-in that speaks OPA's REST Data API and evaluates with regopy."""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from pathlib import Path

import pytest
from opa_standin import OpaStandIn

from gateway_core.errors import ConfigError
from gateway_core.governance.opa import OpaPolicy
from gateway_core.governance.policy import (
    FAIL_CLOSED_MESSAGE,
    PolicyCandidate,
    PolicySettings,
    build_input,
    load_policy,
)
from gateway_core.governance.policy_rego import RegoPolicy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
HEAD = "package gateway.routing\n\n"
CANDIDATES = (
    PolicyCandidate("azure", "gpt-4o-mini", "eu", 0.00015, 0.0006),
    PolicyCandidate("azure", "gpt-4o", "us", 0.0025, 0.01),
    PolicyCandidate("openai", "gpt-4.1-mini", "us", 0.0004, 0.0016),
)


def policy_input(team="research", pii=(), model=None, now=datetime(2025, 1, 6, 10)):
    return build_input(task="chat", priority="balanced", candidates=CANDIDATES, now=now, team=team, pii=pii, model=model)


def combined_policy() -> str:
    # The stand-in takes one module, so the examples are joined under one package line.
    bodies = [p.read_text().split("package gateway.routing", 1)[1] for p in sorted(POLICIES.glob("*.rego"))]
    return HEAD + "\n".join(bodies)


@pytest.fixture
def standin():
    with OpaStandIn(combined_policy()) as server:
        yield server


@pytest.mark.parametrize(
    "case",
    [
        dict(),
        dict(team="legal"),
        dict(pii=("email",)),
        dict(pii=("jwt",)),
        dict(team="support", model="gpt-4o"),
        dict(now=datetime(2025, 1, 11, 23)),
        dict(team="legal", pii=("card",), now=datetime(2025, 1, 11, 23)),
    ],
)
def test_opa_decides_as_the_in_process_engine_does(standin, tmp_path, case):
    (tmp_path / "p.rego").write_text(combined_policy())
    local = RegoPolicy(tmp_path / "p.rego").decide(policy_input(**case))
    remote = OpaPolicy(standin.url).decide(policy_input(**case))
    assert remote.error is None
    assert (remote.denied, remote.excluded, remote.prefer, remote.redact, remote.matched) == (
        local.denied,
        local.excluded,
        local.prefer,
        local.redact,
        local.matched,
    )


def test_version_follows_the_bundle_revision_opa_reports(standin):
    engine = load_policy(PolicySettings.from_mapping({"GATEWAY_OPA_URL": standin.url}))
    first = engine.decide(policy_input())
    assert first.version == f"routing@{standin.revision}"
    standin.set_policy(HEAD + 'deny contains "closed for maintenance" if true\n')
    second = engine.decide(policy_input())
    assert second.denied == ("closed for maintenance",)
    assert second.version == f"routing@{standin.revision}" != first.version


def test_connections_are_kept_alive_and_a_dropped_one_is_reopened(standin):
    engine = OpaPolicy(standin.url)
    for _ in range(3):
        assert engine.decide(policy_input()).error is None
    assert len(standin._connections) == 1
    standin.drop_connections()
    assert engine.decide(policy_input()).error is None
    assert standin.requests == 4 and engine.stats()["errors"] == 0
    engine.close()


def test_a_slow_opa_fails_closed_after_the_timeout(caplog):
    with OpaStandIn(HEAD + "redact := true\n", delay_s=0.5) as slow:
        with caplog.at_level(logging.WARNING):
            decision = OpaPolicy(slow.url, timeout_s=0.1).decide(policy_input())
        assert decision.denied == (FAIL_CLOSED_MESSAGE,)
        assert "did not answer within 0.1 s" in decision.error and "fail-closed" in caplog.text
        assert OpaPolicy(slow.url, timeout_s=0.1, fail_open=True).decide(policy_input()).allowed


def test_an_unreachable_opa_fails_closed():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    decision = OpaPolicy(f"http://user:secret@127.0.0.1:{port}").decide(policy_input())
    assert not decision.allowed and "cannot reach OPA at http://127.0.0.1:" in decision.error
    assert "secret" not in decision.error


@pytest.mark.parametrize(
    "policy, error",
    [
        (
            HEAD + 'prefer := ["a"] if input.request.task == "chat"\nprefer := ["b"] if input.request.task == "chat"\n',
            "OPA answered 500 internal_error",
        ),
        ("package gateway.other\n\nredact := true\n", "OPA has no document at gateway.routing"),
        (HEAD + 'redact := "yes"\n', "redact must be a boolean"),
    ],
)
def test_an_opa_answer_that_is_not_a_decision_fails_closed(policy, error):
    with OpaStandIn(policy) as server:
        decision = OpaPolicy(server.url).decide(policy_input())
    assert decision.denied == (FAIL_CLOSED_MESSAGE,) and error in decision.error


def test_a_url_that_is_not_http_is_a_configuration_error():
    with pytest.raises(ConfigError) as err:
        OpaPolicy("opa.internal:8181")
    assert err.value.variable == "GATEWAY_OPA_URL"
