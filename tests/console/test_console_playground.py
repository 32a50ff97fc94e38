"""The Playground's explanations and recoveries: example prompts, the route in words, a
fallback's full reasons, and retrying a stream that was cut."""

from __future__ import annotations

from console_support import ask, assert_clean, goto, markdown_text, open_console


def test_an_empty_playground_offers_three_examples_and_one_click_sends_it(console_env):
    at = open_console()
    examples = [b for b in at.button if (b.key or "").startswith("pg_example_")]
    assert len(examples) == 3
    examples[1].click().run()
    assert_clean(at)
    assert at.chat_message[0].markdown[0].value.startswith("In one word")
    assert at.chat_message[1].markdown[0].value.strip(".!").isalpha()  # one word back
    assert not [b for b in at.button if (b.key or "").startswith("pg_example_")]  # the conversation has begun


def test_the_route_reads_as_a_sentence_with_the_raw_scores_behind_details(console_env):
    at = open_console()
    at.sidebar.selectbox(key="pg_priority").set_value("low_cost").run()
    ask(at, "What does a cost-aware gateway do?")
    routes = [c.value for c in at.caption if c.value.startswith(":material/route:")]
    assert len(routes) == 1
    assert "Azure OpenAI gpt-4o-mini: cheapest for chat at $" in routes[0]
    assert "less than AWS Bedrock Claude" in routes[0]
    details = next(e for e in at.expander if e.label == "Route details")
    assert details.code[0].value.startswith("low_cost: azure/gpt-4o-mini est $")


def test_a_fallback_shows_each_failure_reason_in_full(console_env):
    at = goto(open_console(), "providers")
    at.button(key="chaos_Azure OpenAI throttled 100%").click().run()
    goto(at, "playground")
    at.sidebar.button_group(key="pg_hint").set_value("azure").run()
    ask(at, "Is the fallback visible?")
    reasons = [c.value for c in at.caption if c.value.startswith(":material/error: Attempt 1, Azure OpenAI gpt-4o-mini:")]
    assert len(reasons) == 1 and "rate\\_limited" in reasons[0]
    assert "took over after Azure OpenAI gpt-4o-mini failed" in "\n".join(c.value for c in at.caption)


def test_a_cut_stream_can_be_retried(console_env):
    at = goto(open_console(), "providers")
    at.button(key="chaos_Azure OpenAI streams cut mid-answer").click().run()
    goto(at, "playground")
    at.sidebar.button_group(key="pg_hint").set_value("azure").run()
    ask(at, "Tell me about routing")
    assert any("stream broke after part of the answer was sent" in w.value for w in at.warning)
    goto(at, "providers").button(key="chaos_Clear all").click().run()
    goto(at, "playground")
    at.button(key="pg_retry_1").click().run()
    assert_clean(at)
    assert [m.markdown[0].value for m in at.chat_message[::2]] == ["Tell me about routing", "Tell me about routing"]
    assert "**Cost** $" in markdown_text(at)  # the retry answered in full
