"""``gateway console`` imports and builds the gateway while the server starts; the first page uses that gateway."""

from __future__ import annotations

from console_support import open_console

from console import state, warmup


def test_the_gateway_built_during_start_up_is_the_one_the_first_page_uses(console_env):
    thread = warmup.start(modules=("json",))
    thread.join(120)
    assert not thread.is_alive()
    built = state._build_gateway(state._env_key())
    at = open_console()
    assert state.gateway() is built
    assert not at.error


def test_a_configuration_error_during_start_up_is_left_for_the_first_page_to_explain(console_env, monkeypatch):
    monkeypatch.setenv("GATEWAY_MODE", "sideways")
    thread = warmup.start(modules=("json",))
    thread.join(120)
    assert not thread.is_alive()  # the warm-up swallowed the error instead of dying loudly in the launcher
    at = open_console()
    assert any("GATEWAY_MODE" in e.value for e in at.error)
