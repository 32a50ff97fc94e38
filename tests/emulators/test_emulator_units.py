"""Pure pieces of the emulators: event-stream frames, answer text, token rules, fault draws,
and the stream gauge that tests wait on."""

from __future__ import annotations

import math
import threading

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from gateway_core.emulators import text, tokens
from gateway_core.emulators.bedrock import eventstream
from gateway_core.emulators.bedrock.models import DEFAULT_MODELS, ModelRejected, resolve
from gateway_core.emulators.faults import FaultState
from gateway_core.emulators.server import Stats

ARTICLE = (
    "The city council approved a new budget on 12 March 2024. The budget allocates $4.5 million to public transport. "
    "Transport officials said the budget will expand bus routes across the city. Residents at the meeting asked about parking. "
    "The council will review the transport budget again in 2025. Weather on the day was mild."
)


def _decoded(data: bytes) -> list:
    """Frames as botocore's own event-stream decoder reads them (it checks both CRCs)."""
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_event_frames_decode_with_botocores_parser():
    data = eventstream.event("contentBlockDelta", {"delta": {"text": "Hi"}}) + eventstream.exception(
        "throttlingException", {"message": "slow down"}
    )
    frames = _decoded(data)
    assert frames[0][0][":event-type"] == "contentBlockDelta" and frames[0][1] == b'{"delta":{"text":"Hi"}}'
    assert frames[1][0] == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    corrupted = bytearray(data)
    corrupted[20] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        _decoded(bytes(corrupted))


def test_answers_are_deterministic_and_differ_by_provider_and_model():
    turns = [("user", "How do I pick a database index?")]
    assert text.generate("azure", "gpt-4o", "", turns) == text.generate("azure", "gpt-4o", "", turns)
    assert text.generate("azure", "gpt-4o", "", turns) != text.generate("bedrock", "gpt-4o", "", turns)
    assert text.generate("azure", "gpt-4o", "", turns) != text.generate("azure", "gpt-4o-mini", "", turns)
    assert "index" in text.generate("bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "", turns).lower()


def test_summary_is_extractive_and_keeps_original_order():
    out = text.generate("azure", "gpt-4o", "", [("user", "Summarise the following text:\n" + ARTICLE)])
    picked = [line[2:] for line in out.splitlines() if line.startswith("- ")]
    assert picked and all(s in ARTICLE for s in picked)
    assert [ARTICLE.index(s) for s in picked] == sorted(ARTICLE.index(s) for s in picked)
    assert "Weather on the day was mild." not in picked


def test_extract_lists_dates_and_amounts():
    out = text.generate("azure", "gpt-4o", "Extract the key facts.", [("user", ARTICLE)])
    assert "- date: 12 March 2024" in out and "- amount: $4.5 million" in out
    contacts = text.generate(
        "azure", "gpt-4o", "", [("user", "Extract contacts: call (415) 555-0132, card 4111 1111 1111 1111.")]
    )
    assert "- phone: (415) 555-0132" in contacts and "- card: 4111 1111 1111 1111" in contacts


def test_classify_uses_offered_labels_and_justifies():
    out = text.generate(
        "azure",
        "gpt-4o",
        "",
        [("user", "Classify the sentiment as positive, negative or neutral:\nThe app is great and I love the fast search.")],
    )
    assert out.startswith("Label: positive") and '"great"' in out


def test_rewrite_expands_contractions_and_fixes_case():
    out = text.generate(
        "azure", "gpt-4o", "Rewrite this text clearly.", [("user", "i don't think it's ready.   we can't ship today")]
    )
    assert out == "I do not think it is ready. We cannot ship today."


def test_chunks_reassemble_exactly():
    answer = text.generate("bedrock", "m", "", [("user", "Explain backpressure in streaming systems")])
    pieces = text.chunks(answer)
    assert "".join(pieces) == answer and len(pieces) > 5
    assert all(1 <= len(p.split()) <= 3 for p in pieces)


def test_stop_sequences_cut_before_the_match():
    assert text.apply_stop("one two three", ["two", "zzz"]) == ("one ", True)
    assert text.apply_stop("one two", []) == ("one two", False)


def test_heuristic_token_rule_when_no_encoding_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: nothing cached, nothing downloaded
    monkeypatch.setattr(tokens, "_ENCODINGS", {})
    assert tokens.azure_rule("gpt-4o") == "heuristic"
    turns = [("user", "x" * 10, None)]
    assert tokens.azure_prompt_tokens("gpt-4o", turns) == 3 + (3 + math.ceil(4 / 4) + math.ceil(10 / 4))
    assert tokens.azure_truncate("gpt-4o", "alpha beta gamma delta", 3) == "alpha beta"


def test_claude_rule_counts_all_text_plus_message_overhead():
    assert tokens.claude_prompt_tokens(["sys"], [("user", "x" * 32, None)]) == math.ceil(35 / 3.5) + 6


def test_model_ids_resolve_through_profiles_and_arns():
    assert resolve("anthropic.claude-3-haiku-20240307-v1:0", DEFAULT_MODELS)[1] is None
    assert (
        resolve("arn:aws:bedrock:eu-west-2::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0", DEFAULT_MODELS)[1] is None
    )
    row, prefix = resolve(
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        DEFAULT_MODELS,
    )
    assert prefix == "global" and row.profile_only
    with pytest.raises(ModelRejected, match="on-demand"):
        resolve("anthropic.claude-sonnet-4-5-20250929-v1:0", DEFAULT_MODELS)


def test_fault_draws_follow_the_seed_and_rate():
    state = FaultState()
    state.set({"error_rate": 0.25, "mix": [{"status": 429, "weight": 3}, {"hang_s": 1}], "seed": 3})
    draws = [state.draw()[1] for _ in range(400)]
    faulted = [d for d in draws if d is not None]
    assert 60 < len(faulted) < 140
    assert sum(d.status == 429 for d in faulted) > sum(d.hang_s is not None for d in faulted)
    state.set({"error_rate": 0.25, "mix": [{"status": 429, "weight": 3}, {"hang_s": 1}], "seed": 3})
    assert [state.draw()[1] for _ in range(400)] == draws


def test_waiting_for_streams_to_close_returns_when_the_last_one_ends():
    stats, opened, release = Stats(), threading.Event(), threading.Event()

    def serve_one_stream() -> None:
        with stats.stream():
            opened.set()
            release.wait(10)

    server = threading.Thread(target=serve_one_stream)
    server.start()
    assert opened.wait(10)
    assert stats.wait_streams_closed(timeout=0.05) is False  # still open: the wait times out
    stats.reset()  # a reset between tests must not forget a stream that is still finishing
    assert stats.snapshot()["active_streams"] == 1
    release.set()
    assert stats.wait_streams_closed(timeout=10) is True
    server.join(10)
    assert stats.snapshot()["active_streams"] == 0
