"""Playground in a real browser: a typed prompt streams back an answer with its provider and cost."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PROMPT = "How can we cut our monthly LLM bill without hurting answer quality?"


def test_prompt_gets_an_answer_with_provider_and_cost_badges(console):
    console.open()
    console.assert_clean()

    reply = console.ask(PROMPT)

    expect(console.page.get_by_test_id("stChatMessage").nth(0)).to_contain_text(PROMPT)
    answer = reply.get_by_test_id("stMarkdownContainer").first
    assert len(answer.inner_text().split()) >= 5, answer.inner_text()
    expect(reply.locator(".stMarkdownBadge").first).to_have_text(re.compile(r"(Azure OpenAI|AWS Bedrock) · \S+"))
    expect(reply).to_contain_text(re.compile(r"Cost \$\d+\.\d+ \(est \$\d+\.\d+\)"))
    expect(reply).to_contain_text(re.compile(r"Latency [\d.]+ m?s · TTFT [\d.]+ m?s · Tokens est \d+"))
    expect(reply.locator(".stMarkdownBadge").filter(has_text="fallback")).to_have_count(0)
    console.assert_clean()
    console.screenshot("playground")


def test_every_page_renders_without_errors_or_secrets_after_a_prompt(console):
    console.open()
    console.ask("Summarise why request logs matter for cost control.")
    console.assert_clean()
    for title in ("Compare", "Analytics", "Requests", "Providers", "Playground"):
        console.nav(title)
        console.assert_clean()
    console.nav("Requests")
    expect(console.main()).to_contain_text(re.compile(r"[1-9]\d* requests · page 1 of 1"))
    expect(console.main().get_by_test_id("stExpander").first).to_contain_text("console")
