"""The Requests page with awkward rows in the log: refusals, and attempts with missing fields."""

from __future__ import annotations

from console_support import ask, assert_clean, goto, open_console

from gateway_core.usage import UsageLog


def test_requests_page_lists_requests_and_a_refusal_from_an_empty_compare(console_env):
    at = ask(open_console(), "first question")
    goto(at, "compare")
    at.button[0].click().run()  # Compare with an empty prompt: refused, naming the field
    assert any("Invalid **prompt**" in e.value for e in at.error)
    goto(at, "requests")
    assert [e.label.split(" · ")[-1] for e in at.expander] == ["console / chat"]
    assert [t.label for t in at.tabs] == ["Sent to a provider", "Rejected (1)"]
    refused = at.dataframe[0].value
    assert list(refused[["source", "field", "error_type", "user"]].iloc[0]) == [
        "console",
        "prompt",
        "validation_error",
        "console",
    ]


def test_requests_page_and_search_survive_rows_without_provider_or_user(console_env):
    with UsageLog(console_env) as log:  # rows an older writer or a hand-made import could leave
        for i in range(12):
            log.write({"request_id": f"req_ok_{i}", "provider": "azure", "model": "gpt-4o-mini", "user": "ann", "task": "chat"})
        log.write({"request_id": "req_gap", "provider": None, "model": None, "user": None, "status": "error"})
    at = goto(open_console(), "requests")
    labels = [e.label for e in at.expander]
    assert len(labels) == 13
    assert any("not sent" in label and "anonymous" in label for label in labels)
    at.text_input(key="rq_search").input("req_").run()
    assert_clean(at)
    assert len(at.expander) == 13
