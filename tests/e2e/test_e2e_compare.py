"""Compare in a real browser: both providers answer side by side, a blind vote reveals who was who."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PROMPT = "Should a small team start with pgvector or a managed vector database for semantic search?"
LABELS = ("Azure OpenAI", "AWS Bedrock")


def sides(console):
    """The two bordered answer columns (each headed by a side's letter)."""
    return console.main().get_by_test_id("stColumn").filter(has=console.page.get_by_role("heading", level=4))


def test_both_columns_fill_and_vote_reveals_providers(console):
    console.open("compare", "Compare")
    expect(console.sidebar().get_by_role("switch", name="Blind mode")).to_be_checked()
    console.assert_clean()

    console.page.get_by_label("Prompt").fill(PROMPT)
    columns = sides(console)
    console.act(console.button("Compare").click, until=lambda: expect(columns).to_have_count(2))
    for i, side in enumerate("AB"):
        col = columns.nth(i)
        expect(col.get_by_role("heading", level=4)).to_have_text(re.compile(rf"^\W*{side}\W*$"))  # blind: no provider yet
        # nor a cost, latency, TTFT or token count that would give it away
        expect(col.get_by_test_id("stMetric")).to_have_count(0)
        expect(col).to_contain_text("shown with the providers, after your vote")
        body = col.get_by_test_id("stMarkdownContainer").nth(1).inner_text()
        assert len(body.split()) >= 5 and "no text" not in body, body
    both = columns.nth(0).inner_text() + columns.nth(1).inner_text()
    assert not any(label in both for label in LABELS), "blind mode showed a provider before the vote"
    assert not re.search(r"\$\d|\d ms\b|\d s\b", both), "blind mode showed a cost or a latency before the vote"
    console.assert_clean()

    verdict = console.page.get_by_test_id("stAlertContentSuccess")
    console.act(console.button("A is better").click, until=lambda: expect(verdict).to_have_count(1))
    expect(verdict).to_contain_text(
        re.compile(r"Vote recorded: A is better\. A was (Azure OpenAI|AWS Bedrock), B was (Azure OpenAI|AWS Bedrock)\.")
    )
    revealed = [columns.nth(i).get_by_role("heading", level=4).inner_text() for i in range(2)]
    assert sorted(h.split("·")[-1].strip() for h in revealed) == sorted(LABELS), revealed
    for i in range(2):
        expect(columns.nth(i).locator(".stMarkdownBadge")).to_have_text(re.compile(r"(Azure OpenAI|AWS Bedrock) · \S+"))
        expect(columns.nth(i).get_by_test_id("stMetricValue").first).to_have_text(re.compile(r"^\$\d"))  # revealed with them
    summary = console.page.get_by_test_id("stDataFrame")
    expect(summary).to_have_count(2)  # the vote tally now has rows, and so does the progress toward enough votes
    console.assert_clean()
    console.scroll_to_top_of(columns.first)  # the picture shows both answers and the reveal
    console.screenshot("compare")
