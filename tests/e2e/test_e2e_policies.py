"""Routing policy in a real browser: an answer names the policy that routed it, and the
Policies page shows the active policy and dry-runs an EU team's request."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .console_server import ROOT, ConsoleServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    """The console with the example policies, Azure placed in Sweden (EU) and Bedrock in London (UK)."""
    env = {"GATEWAY_POLICY_FILE": str(ROOT / "policies"), "AZURE_OPENAI_REGION": "swedencentral"}
    server = ConsoleServer(tmp_path_factory.mktemp("console-policies"), extra_env=env).start()
    try:
        yield server
    finally:
        server.stop()


def test_an_answer_names_the_policy_and_the_policies_page_dry_runs_an_eu_request(console):
    console.open()
    reply = console.ask("Write to ana.lopez@example.com with a summary of the storage review.")
    expect(reply).to_contain_text(re.compile(r"Policy [0-9a-f]{12} · exclude"))
    expect(reply).to_contain_text("prompt_has_pii")
    console.assert_clean()

    console.nav("Policies")
    main = console.main()
    expect(main).to_contain_text("fails closed")
    expect(main).to_contain_text("input.principal.team")
    box = main.get_by_label("Input (JSON)")
    text = box.input_value().replace('"team": "default"', '"team": "legal"')
    box.fill(text)
    box.press("Control+Enter")  # commits the text area, as leaving it would
    console.wait_idle()
    console.act(
        console.button("Evaluate").click,
        until=lambda: expect(main).to_contain_text(re.compile(r"Routed: \d candidate\(s\) remain")),
    )
    expect(main).to_contain_text("eu_residency_applies")
    console.assert_clean()
    console.scroll_to_top_of(main.get_by_text("Input (JSON)"), margin_px=24)
    console.screenshot("policies")
