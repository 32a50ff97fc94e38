"""Token estimates: the chat recipe, the heuristic fallback, loading once, and calibration."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from gateway_fixtures import ROOT, tiktoken_available

from gateway_core.tokens import (
    CACHE_MAX_CHARS,
    CALIBRATION_BOUNDS,
    DEFAULT_CALIBRATION,
    TokenCounter,
    encoding_name,
    load_cached_encoding,
)
from gateway_core.types import ChatMessage

needs_tiktoken = pytest.mark.skipif(
    not tiktoken_available(), reason="tiktoken encodings cannot load (TIKTOKEN_CACHE_DIR has no o200k_base file)"
)

WIRE_EXAMPLE = (
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Hello, how are you today?"),
)
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"


class WordEncoding:
    """A deterministic stand-in tokenizer: one token per whitespace-separated word."""

    def encode_ordinary(self, text):
        return text.split()


def failing_loader(name):
    raise ConnectionError("no network")


class CountingLoader:
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, name):
        self.calls.append(name)
        return self.inner(name)


@pytest.mark.parametrize(
    "model, encoding",
    [
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        (CLAUDE, "o200k_base"),
    ],
)
def test_encoding_follows_model_family(model, encoding):
    assert encoding_name(model) == encoding


@needs_tiktoken
@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4"])
def test_wire_example_is_24_tokens_with_both_encodings(model):
    est = TokenCounter().estimate_messages(model, WIRE_EXAMPLE)
    assert (est.tokens, est.source, est.raw_tokens) == (24, "tiktoken", 24)


@needs_tiktoken
def test_calibrated_estimate_scales_the_tiktoken_count():
    est = TokenCounter().estimate_messages(CLAUDE, WIRE_EXAMPLE, calibrate=True)
    assert est.source == "calibrated"
    assert est.raw_tokens == 24 and est.tokens == math.ceil(24 * DEFAULT_CALIBRATION)


@needs_tiktoken
def test_cached_and_uncached_counts_agree_with_the_encoding():
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    counter = TokenCounter()
    short = "Summarise the user's text in two or three sentences."
    long = "The quarterly report shows revenue rising. " * (CACHE_MAX_CHARS // 20)
    for text in (short, short, long, long):
        expected = 3 + len(enc.encode("user")) + len(enc.encode(text)) + 3
        assert counter.estimate_messages("gpt-4o", [ChatMessage("user", text)]).tokens == expected


@needs_tiktoken
def test_special_token_text_in_a_prompt_is_counted_not_rejected():
    assert TokenCounter().estimate_messages("gpt-4o", [ChatMessage("user", "say <|endoftext|> please")]).tokens > 9


@needs_tiktoken
def test_encoding_loads_once_across_models_and_threads():
    import tiktoken

    loader = CountingLoader(tiktoken.get_encoding)
    counter = TokenCounter(loader)

    def work():
        for _ in range(50):
            counter.estimate_messages("gpt-4o-mini", WIRE_EXAMPLE)
            counter.estimate_messages(CLAUDE, WIRE_EXAMPLE, calibrate=True)
            counter.estimate_messages("gpt-4.1", [ChatMessage("user", "hello")])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loader.calls == ["o200k_base"]


def test_failed_load_falls_back_to_labelled_heuristic_and_never_retries():
    loader = CountingLoader(failing_loader)
    counter = TokenCounter(loader)
    for _ in range(5):
        est = counter.estimate_messages("gpt-4o", WIRE_EXAMPLE)
    chars = [len(m.content) for m in WIRE_EXAMPLE]
    assert est.source == "heuristic"
    assert est.tokens == sum(4 + math.ceil(c / 4) for c in chars) + 3
    assert counter.estimate_messages(CLAUDE, WIRE_EXAMPLE, calibrate=True).source == "heuristic"
    assert loader.calls == ["o200k_base"]


def test_empty_tiktoken_cache_gives_heuristic_without_touching_the_network(tmp_path):
    script = textwrap.dedent(
        """
        import socket
        attempts = []
        def refuse(self, address, *a):
            attempts.append(address)
            raise OSError("network disabled")
        socket.socket.connect = refuse
        from gateway_core.tokens import TokenCounter
        from gateway_core.types import ChatMessage
        est = TokenCounter().estimate_messages("gpt-4o-mini", [ChatMessage("user", "Hello there")])
        print(est.source, len(attempts))
        """
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["heuristic", "0"]


def test_cache_only_loader_refuses_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TIKTOKEN_CACHE_DIR"):
        load_cached_encoding("o200k_base")


def _sample_raws():
    return [40 + (i * 37) % 900 for i in range(400)]


def test_calibration_converges_on_the_true_ratio():
    counter = TokenCounter(lambda name: WordEncoding())
    true_ratio = 1.4
    for raw in _sample_raws():
        counter.observe(CLAUDE, raw, round(raw * true_ratio))
    assert counter.calibration_factor(CLAUDE) == pytest.approx(true_ratio, abs=0.01)
    text = " ".join(["word"] * 94)  # 94 words + 3 per message + 1 role word + 3 priming = 101 raw
    est = counter.estimate_messages(CLAUDE, [ChatMessage("user", text)], calibrate=True)
    assert (est.raw_tokens, est.source) == (101, "calibrated")
    assert est.tokens == pytest.approx(141, abs=2)


def test_profile_ids_share_their_model_calibration():
    counter = TokenCounter(lambda name: WordEncoding())
    for _ in range(20):
        counter.observe(f"us.{CLAUDE}", 100, 130)
    assert counter.calibration_factor(CLAUDE) == pytest.approx(1.3)
    assert counter.calibration_factor(f"arn:aws:bedrock:us-east-1:1:inference-profile/eu.{CLAUDE}") == pytest.approx(1.3)


def test_one_wild_observation_cannot_wreck_a_learned_factor():
    counter = TokenCounter(lambda name: WordEncoding())
    for _ in range(50):
        counter.observe(CLAUDE, 100, 120)
    counter.observe(CLAUDE, 10, 100_000)
    hi = CALIBRATION_BOUNDS[1]
    assert counter.calibration_factor(CLAUDE) <= 1.2 + 0.1 * (hi - 1.2) + 1e-9


def test_seed_calibration_replays_logged_rows():
    counter = TokenCounter(lambda name: WordEncoding())
    rows = [(CLAUDE, 200, 250)] * 30 + [(CLAUDE, 0, 10), (CLAUDE, None, 10)]
    assert counter.seed_calibration(rows) == 30
    assert counter.calibration_factor(CLAUDE) == pytest.approx(1.25)
    assert counter.calibration_factor("anthropic.claude-never-seen") == DEFAULT_CALIBRATION


def test_uncalibrated_estimates_stay_exact_tiktoken_counts():
    counter = TokenCounter(lambda name: WordEncoding())
    for _ in range(10):
        counter.observe("gpt-4o", 100, 150)  # learning one model never touches another's estimate
    est = counter.estimate_messages("gpt-4o", [ChatMessage("user", "one two three")])
    assert (est.tokens, est.source) == (3 + 1 + 3 + 3, "tiktoken")


def test_heuristic_counts_do_not_teach_calibration():
    counter = TokenCounter(failing_loader)
    counter.observe(CLAUDE, 100, 300)
    assert counter.calibration_factor(CLAUDE) == DEFAULT_CALIBRATION
