"""A provider outage trips the circuit breaker: traffic stops reaching it, then a probe brings it back.

The gateway runs on an injected clock, so the cooldown passes when the test says so.
What a user notices: during an Azure outage requests keep answering from Bedrock without
first waiting on Azure, the emulator stops seeing calls, the console's provider status
says ``open``, and once Azure recovers one probe closes the breaker and Azure serves again.
"""

from __future__ import annotations

import pytest
from gateway_fixtures import HAIKU, demo_env

from gateway_core import GenerateRequest, Settings
from gateway_core.gateway import Gateway


class FakeClock:
    def __init__(self, start: float = 10_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def outage(tmp_path):
    clock = FakeClock()
    # One deployment per provider: one Azure breaker, so "Azure is cut off" is a single state.
    env = demo_env(
        tmp_path / "breaker.sqlite", GATEWAY_SDK_MAX_ATTEMPTS="1", AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini", BEDROCK_MODEL_ID=HAIKU
    )
    settings = Settings.from_mapping(env)
    gw = Gateway(settings, clock=clock)
    gw.emulators.azure.set_faults(status=503)
    yield gw, clock
    gw.close()


def azure_first(i: int) -> GenerateRequest:
    return GenerateRequest(prompt=f"outage request {i}", provider_hint="azure", priority="low_cost")


def azure_keys_opened(gw) -> set:
    return {key for key, _, after, _ in gw.breaker.transitions if after == "open" and key[0] == "azure"}


def trip(gw) -> set:
    """Send Azure-first requests until an Azure breaker opens; every one still answers from Bedrock."""
    for i in range(20):
        r = gw.generate(azure_first(i))
        assert r.provider == "bedrock" and r.fallback_used
        if azure_keys_opened(gw):
            return azure_keys_opened(gw)
    pytest.fail("twenty straight Azure 503s never opened its breaker")


def test_outage_opens_the_breaker_and_traffic_stops_reaching_azure(outage):
    gw, _ = outage
    opened = trip(gw)
    assert gw.emulators.azure.stats()["requests"] == gw.breaker.consecutive_failures, (
        "the breaker opens on the configured number of consecutive failures, not later"
    )
    assert all(gw.breaker.state(key) == "open" for key in opened)
    status = {(s["provider"], s["model"]): s["breaker"] for s in gw.provider_status()}
    assert all(status[key] == "open" for key in opened), status

    calls_at_open = gw.emulators.azure.stats()["requests"]
    for i in range(30):
        r = gw.generate(azure_first(100 + i))
        assert r.provider == "bedrock"
        assert all((a.provider, a.model) not in opened for a in r.attempts), "an open breaker was tried"
    assert gw.emulators.azure.stats()["requests"] == calls_at_open, "Azure kept receiving calls with its breaker open"


def test_after_recovery_and_cooldown_one_probe_closes_the_breaker(outage):
    gw, clock = outage
    opened = trip(gw)
    gw.emulators.azure.clear_faults()
    calls_before = gw.emulators.azure.stats()["requests"]

    clock.advance(gw.breaker.cooldown_s + 1)
    assert all(gw.breaker.state(key) == "half_open" for key in opened)
    r = gw.generate(azure_first(900))
    key = (r.provider, r.model)
    assert key in opened and not r.fallback_used, "the recovered provider answers the probe itself"
    assert gw.breaker.state(key) == "closed"
    assert gw.emulators.azure.stats()["requests"] == calls_before + 1, "exactly one probe reached Azure"
    moves = [(before, after) for k, before, after, _ in gw.breaker.transitions if k == key]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]

    r = gw.generate(azure_first(999))
    assert r.provider == "azure", "a closed breaker lets Azure serve its traffic again"


def test_a_failed_probe_reopens_the_breaker_for_another_cooldown(outage):
    gw, clock = outage
    opened = trip(gw)
    clock.advance(gw.breaker.cooldown_s + 1)
    r = gw.generate(azure_first(500))  # Azure still down: the probes fail, Bedrock answers
    probed = {(a.provider, a.model) for a in r.attempts if a.provider == "azure"}
    assert r.provider == "bedrock" and probed and probed <= opened
    assert all(gw.breaker.state(key) == "open" for key in probed)
    calls = gw.emulators.azure.stats()["requests"]
    clock.advance(gw.breaker.cooldown_s / 2)
    gw.generate(azure_first(501))
    assert gw.emulators.azure.stats()["requests"] == calls, "a re-opened breaker waits a full cooldown again"
