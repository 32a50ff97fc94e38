"""A policy on the request path when things go wrong: providers failing under a residency
rule, a policy that cannot decide, a policy rewritten while the gateway runs, a policy on an
OPA server, and a policy that does not parse at start-up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gateway_fixtures import ROOT, demo_env
from opa_standin import OpaStandIn
from policy_gateway import EU, EU_HAIKU, POLICIES, attempted, keys, policy_gateway, request, rows, served

from gateway_core import Gateway, Settings
from gateway_core.errors import AllProvidersFailed, ConfigError, PolicyDenied
from gateway_core.governance.policy import FAIL_CLOSED_MESSAGE

HEAD = "package gateway.routing\n\n"
# Two answers for one complete rule: an evaluation error whenever the task is chat.
CONFLICT = HEAD + 'prefer := ["azure"] if input.request.task == "chat"\nprefer := ["bedrock"] if input.request.task == "chat"\n'


def test_an_eu_team_never_reaches_another_region_even_when_its_eu_candidates_fail(tmp_path):
    with policy_gateway(tmp_path / "log.sqlite", POLICIES / "eu_only_team.rego", GATEWAY_SDK_MAX_ATTEMPTS="1") as gw:
        keys(gw, ana="legal", rui="research")
        gw.emulators.azure.set_faults(status=503)  # the EU deployment on Azure is down
        for priority in ("low_cost", "low_latency", "balanced"):
            result = gw.generate(request(priority=priority, provider_hint="azure"), key="ana")
            assert served(result) == ("bedrock", EU_HAIKU) and attempted(result) <= EU
        gw.emulators.bedrock.set_faults(status=503)  # now every EU candidate fails
        with pytest.raises(AllProvidersFailed) as failed:
            gw.generate(request(provider_hint="azure"), key="ana")
        assert attempted(failed.value) == EU, "both EU candidates tried, nothing outside the EU"
        stream = gw.stream(request(priority="low_cost"), key="ana")
        with pytest.raises(AllProvidersFailed) as streamed:
            list(stream)
        assert attempted(streamed.value) == EU
        # Under the same outage a team without the rule falls back to the US and unknown regions.
        with pytest.raises(AllProvidersFailed) as elsewhere:
            gw.generate(request(provider_hint="azure"), key="rui")
        assert attempted(elsewhere.value) - EU
        logged = [(r["provider"], r["model"]) for r in rows(gw) if r["key_name"] == "ana"]
    assert logged and set(logged) <= EU


def test_a_policy_that_cannot_decide_refuses_by_default_and_says_so_in_the_log(tmp_path, caplog):
    path = tmp_path / "conflict.rego"
    path.write_text(CONFLICT)
    with policy_gateway(tmp_path / "closed.sqlite", path) as gw, caplog.at_level(logging.WARNING):
        with pytest.raises(PolicyDenied) as refused:
            gw.generate(request())
        assert refused.value.messages == (FAIL_CLOSED_MESSAGE,) and refused.value.policy_version == gw.policy.version
        assert served(gw.generate(request(task="summarise"))), "another task decides without error"
    assert any("fail-closed" in r.getMessage() and "evaluation error" in r.getMessage() for r in caplog.records)

    with policy_gateway(tmp_path / "open.sqlite", path, GATEWAY_POLICY_FAIL_OPEN="true") as gw:
        result = gw.generate(request())
    assert result.policy.error and "error: evaluation error" in result.route_reason


def test_a_changed_policy_takes_effect_on_the_next_request_without_a_restart(tmp_path):
    path = tmp_path / "live.rego"
    path.write_text(HEAD + 'exclude contains "bedrock" if true\n')
    with policy_gateway(tmp_path / "log.sqlite", path) as gw:
        first = gw.generate(request(provider_hint="bedrock"))
        assert first.provider != "bedrock"
        old = gw.policy.version
        path.write_text(HEAD + 'exclude contains "azure" if true\nexclude contains "openai" if true\n')
        os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
        gw.policy.reload_if_changed(force=True)  # what the once-a-second check does on its own
        second = gw.generate(request(provider_hint="azure"))
        assert second.provider == "bedrock" and gw.policy.version != old
        assert {r["policy_version"] for r in rows(gw)} == {old, gw.policy.version}


def test_a_rewritten_policy_is_picked_up_by_the_periodic_check(tmp_path):
    path = tmp_path / "live.rego"
    path.write_text(HEAD + 'deny contains "closed for maintenance" if true\n')
    with policy_gateway(tmp_path / "log.sqlite", path) as gw:
        with pytest.raises(PolicyDenied, match="closed for maintenance"):
            gw.generate(request())
        path.write_text(HEAD + "redact if true\n")
        os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
        for _ in range(40):  # the files are looked at once a second, by a request
            try:
                result = gw.generate(request())
                break
            except PolicyDenied:
                time.sleep(0.1)
        else:
            pytest.fail("the rewritten policy was never picked up")
    assert result.policy.redact


def test_a_policy_on_an_opa_server_routes_through_the_gateway(tmp_path):
    eu_only = (POLICIES / "eu_only_team.rego").read_text()
    with OpaStandIn(eu_only) as opa, policy_gateway(tmp_path / "log.sqlite", None, GATEWAY_OPA_URL=opa.url) as gw:
        keys(gw, ana="legal")
        result = gw.generate(request(provider_hint="openai"), key="ana")
        assert served(result) in EU and opa.requests == 1
        assert opa.revision in gw.policy.version and f"policy {gw.policy.version}" in result.route_reason
        opa.set_policy(HEAD + 'deny contains "the OPA server says no" if true\n')
        with pytest.raises(PolicyDenied, match="the OPA server says no"):
            gw.generate(request(), key="ana")
    # The server gone: the gateway cannot ask, so it refuses (fail-closed).
    with pytest.raises(PolicyDenied) as refused:
        with policy_gateway(tmp_path / "gone.sqlite", None, GATEWAY_OPA_URL=opa.url) as gw:
            gw.generate(request())
    assert refused.value.messages == (FAIL_CLOSED_MESSAGE,)


def test_a_policy_that_does_not_parse_stops_start_up_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.rego"
    bad.write_text(HEAD + 'deny contains "x" if {\n  input.principal.team ==\n}\n')
    with pytest.raises(ConfigError) as err:
        Gateway(Settings.from_mapping(demo_env(tmp_path / "log.sqlite", GATEWAY_POLICY_FILE=str(bad))))
    assert err.value.variable == "GATEWAY_POLICY_FILE" and f"{bad}:4:" in err.value.message
    env = {**os.environ, **demo_env(tmp_path / "cli.sqlite", GATEWAY_POLICY_FILE=str(bad))}
    for command in (["generate", "hello"], ["serve", "--port", "1"]):
        done = subprocess.run(
            [sys.executable, "-m", "gateway_core.cli", *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == f"error: GATEWAY_POLICY_FILE: {bad}:4: Invalid boolean operator\n", command


def test_a_missing_policy_file_stops_start_up_too(tmp_path):
    with pytest.raises(ConfigError, match="no such file or directory"):
        Gateway(Settings.from_mapping(demo_env(tmp_path / "log.sqlite", GATEWAY_POLICY_FILE=str(Path(tmp_path, "nope.rego")))))
