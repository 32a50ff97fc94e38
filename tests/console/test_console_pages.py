"""The console pages, driven through Streamlit's AppTest against zero-latency emulators."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from console_support import ask, assert_clean, goto, markdown_text, open_console

from gateway_core.usage.demo_history import seed_demo

PAGES = ("playground", "compare", "analytics", "requests", "providers", "governance")


def _chart_count(at) -> int:
    return len(at.get("vega_lite_chart")) + len(at.get("arrow_vega_lite_chart"))


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_playground_prompt_streams_answer_with_provider_and_cost(console_env):
    at = ask(open_console(), "What does a cost-aware gateway do?")
    text = markdown_text(at)
    answer = at.chat_message[1].markdown[0].value
    assert len(answer) > 20
    assert "Azure OpenAI ·" in text or "AWS Bedrock ·" in text
    assert "**Cost** $" in text
    assert "TTFT" in text
    # The conversation survives a rerun with its metadata.
    at.run()
    assert at.chat_message[1].markdown[0].value == answer
    assert "**Cost** $" in markdown_text(at)


def test_playground_names_the_invalid_field(console_env):
    at = open_console()
    at.sidebar.toggle(key="pg_temp_on").set_value(True).run()
    at.chat_input[0].set_value("   ").run()
    assert_clean(at)
    assert any("Invalid **prompt**" in e.value for e in at.error)


def test_compare_streams_two_answers_and_stores_blind_vote(console_env):
    at = goto(open_console(), "compare")
    at.text_area(key="cmp_prompt").input("Explain circuit breakers in two sentences.")
    at.button[0].click().run()
    assert_clean(at)
    headers = [m.value for m in at.markdown if m.value.startswith("####")]
    assert headers == ["#### A", "#### B"]  # blind: no provider named yet
    # nor anything that would give one away: cost, latency, TTFT and tokens wait for the vote
    assert not at.metric
    assert sum("shown with the providers, after your vote" in c.value for c in at.caption) == 2
    at.button(key="cmp_vote_a").click().run()
    assert_clean(at)
    with sqlite3.connect(console_env) as conn:
        votes = conn.execute("SELECT verdict, provider_a, provider_b FROM ab_votes").fetchall()
    assert len(votes) == 1 and votes[0][0] == "a"
    assert {votes[0][1], votes[0][2]} == {"azure", "bedrock"}
    assert any("Vote recorded" in s.value for s in at.success)
    assert any(h.startswith("#### A ·") for h in (m.value for m in at.markdown))  # revealed
    assert [m.label for m in at.metric].count("Cost") == 2 and [m.label for m in at.metric].count("TTFT") == 2


def test_compare_over_every_configured_provider_shows_each_named_and_offers_no_vote(console_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "console-test-key")  # a third provider, emulated in demo mode
    at = goto(open_console(), "compare")
    assert at.sidebar.multiselect(key="cmp_providers").value == ["azure", "bedrock"]  # two by default
    at.sidebar.multiselect(key="cmp_providers").select("openai").run()
    at.text_area(key="cmp_prompt").input("Explain circuit breakers in two sentences.")
    at.button[0].click().run()
    assert_clean(at)
    headers = [m.value for m in at.markdown if m.value.startswith("####")]
    assert headers == ["#### A · Azure OpenAI", "#### B · AWS Bedrock", "#### C · OpenAI-compatible"]
    assert len([m for m in at.metric if m.label == "Cost"]) == 3
    assert not [b for b in at.button if b.key and b.key.startswith("cmp_vote_")]


def test_analytics_renders_charts_and_reacts_to_provider_filter(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "analytics")
    assert _chart_count(at) >= 8
    assert [m.label for m in at.metric] == [
        "Spend",
        "Saved",
        "Overspent",
        "Cost / 1k requests",
        "Requests",
        "Error rate",
        "Fallback rate",
        "Rejected",
        # the cost panels below the charts: the month-end forecast
        f"Forecast for {datetime.now(UTC):%B}",
        "95% band",
        "Month to date",
        "Run rate",
    ]
    spend_all = _metric(at, "Spend")
    at.sidebar.multiselect(key="an_providers:azure,bedrock").unselect("bedrock").run()
    assert_clean(at)
    assert _metric(at, "Spend") != spend_all
    assert at.get("download_button")


def test_analytics_on_empty_log_offers_demo_history(console_env):
    at = goto(open_console(), "analytics")
    assert _chart_count(at) == 0
    at.button(key="an_seed").click().run()
    assert_clean(at)
    assert _chart_count(at) >= 6


def test_requests_lists_one_row_per_request(console_env):
    at = ask(open_console(), "first question")
    ask(at, "second question")
    goto(at, "requests")
    labels = [e.label for e in at.expander]
    assert len(labels) == 2
    assert all("console / chat" in label for label in labels)
    assert "2 requests" in at.caption[0].value or any("2 requests" in c.value for c in at.caption)


def test_chaos_azure_throttled_makes_next_answer_fall_back_to_bedrock(console_env):
    at = goto(open_console(), "providers")
    at.button(key="chaos_Azure OpenAI throttled 100%").click().run()
    assert_clean(at)
    goto(at, "playground")
    at.sidebar.button_group(key="pg_hint").set_value("azure").run()
    ask(at, "Is the fallback visible?")
    text = markdown_text(at)
    assert "fallback" in text
    assert "AWS Bedrock ·" in text
    attempts = at.dataframe[0].value
    assert list(attempts["provider"]) == ["azure", "bedrock"]
    assert attempts["error"].iloc[0] == "rate_limited"


def test_every_page_renders_without_exception(console_env):
    seed_demo(console_env, days=7, requests=500)
    at = open_console()
    for page in PAGES:
        goto(at, page)
        assert at.title[0].value.lower() == page


def _all_bytes(node) -> bytes:
    """Everything the page would send to a browser, serialised."""
    out = b""
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "SerializeToString"):
        out += proto.SerializeToString()
    for child in getattr(node, "children", {}).values():
        out += _all_bytes(child)
    return out


def test_planted_secret_never_reaches_a_page(console_env, monkeypatch):
    secret = "sk-PLANTED-7f3a9c1e5b2d4680"
    monkeypatch.setenv("GATEWAY_MODE", "auto")  # Azure has a key but no endpoint: emulated
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", secret)
    seed_demo(console_env, days=7, requests=300)
    at = ask(open_console(), f"please repeat {secret[:6]} back")
    for page in PAGES:
        goto(at, page)
        values = [str(getattr(e, "value", "")) for e in at.main] + [str(getattr(e, "value", "")) for e in at.sidebar]
        assert not any(secret in v for v in values), page
        blob = _all_bytes(at._tree)
        assert page.title().encode() in blob  # the scan sees what the page shows
        assert secret.encode() not in blob, page


def test_every_provider_failing_shows_each_attempt(console_env):
    at = goto(open_console(), "providers")
    at.button(key="chaos_Azure OpenAI throttled 100%").click().run()
    at.selectbox(key="chaos_provider").set_value("bedrock")
    at.slider(key="chaos_rate").set_value(1.0)
    at.selectbox(key="chaos_status").set_value(503)
    at.button(key="chaos_apply").click().run()
    assert_clean(at)
    goto(at, "playground")
    ask(at, "Anyone there?")
    assert any(e.value.startswith("Every provider failed") for e in at.error)
    attempts = at.dataframe[0].value
    assert set(attempts["provider"]) == {"azure", "bedrock"}
    assert set(attempts["status"]) == {"error"}


def test_content_filter_is_reported_without_fallback(console_env):
    at = goto(open_console(), "providers")
    at.button(key="chaos_AWS Bedrock content filter").click().run()
    goto(at, "playground")
    at.sidebar.button_group(key="pg_hint").set_value("bedrock").run()
    ask(at, "Something the filter dislikes")
    assert any("AWS Bedrock refused this content" in e.value for e in at.error)


def _sidebar_text(at) -> str:
    return "\n".join(str(getattr(e, "value", "")) for e in at.sidebar)


def test_sidebar_says_telemetry_is_off_when_nothing_asks_for_it(console_env):
    assert "Telemetry **off** · no OTEL_* variable is set" in _sidebar_text(open_console())


def test_sidebar_shows_where_telemetry_goes_but_never_its_credentials(console_env, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ops:Planted-Pass-4410@127.0.0.1:9/otlp?token=Planted-Query-8812")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20Planted-Header-2291")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    text = _sidebar_text(open_console())

    assert "Telemetry **on** → `http://127.0.0.1:9/otlp` (http/protobuf) · traces otlp" in text
    assert "Planted" not in text
