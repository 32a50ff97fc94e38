"""The adapters with the real SDKs (openai.AzureOpenAI, openai.OpenAI, boto3 bedrock-runtime) against the loopback emulators.

The OpenAI-compatible adapter runs against the Azure emulator's ``/openai/v1`` route: a plain
``openai.OpenAI`` client, a bearer key, the model in the body."""

from __future__ import annotations

import socket

import pytest

from gateway_core.config import Settings
from gateway_core.emulators import start_emulators
from gateway_core.errors import (
    ContentFiltered,
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from gateway_core.providers import PROVIDERS as REGISTRY
from gateway_core.providers.base import Completion, ProviderCall
from gateway_core.types import ChatMessage

MODELS = {"azure": "gpt-4o-mini", "bedrock": "anthropic.claude-3-haiku-20240307-v1:0", "openai": "gpt-4o-mini"}
PROVIDERS = ("azure", "bedrock", "openai")


@pytest.fixture(scope="module")
def emus():
    with start_emulators(profile="zero") as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(emus):
    for emu in (emus.azure, emus.bedrock):
        emu.clear_faults()
        emu.reset_stats()
    yield
    for emu in (emus.azure, emus.bedrock):
        emu.clear_faults()


_BUILT: dict = {}


def settings_for(timeout_s: float = 10.0, sdk_max_attempts: int = 1) -> Settings:
    return Settings.from_mapping({"GATEWAY_TIMEOUT_S": str(timeout_s), "GATEWAY_SDK_MAX_ATTEMPTS": str(sdk_max_attempts)})


def build(emus, name: str, **overrides):
    """An adapter made as the gateway makes it for an emulated provider (``for_emulator``).
    Built once per configuration: a boto3 client costs a few hundred ms to create."""
    key = (name, id(emus), tuple(sorted(overrides.items())))
    if key not in _BUILT:
        cls = REGISTRY[name]
        _BUILT[key] = cls.for_emulator(settings_for(**overrides), emus.get(cls.emulator).url)
    return _BUILT[key]


def emu(emus, name):
    return emus.get(REGISTRY[name].emulator)


def call(name, *turns, temperature=None, max_tokens=64, model=None):
    turns = turns or (("user", "Summarise: the quarterly numbers rose by ten percent on strong cloud demand."),)
    return ProviderCall(model or MODELS[name], tuple(ChatMessage(r, c) for r, c in turns), max_tokens, temperature)


def drain(iterator):
    """(text items, completions, error) from a stream, without hiding where it stopped."""
    texts, finals = [], []
    try:
        for item in iterator:
            (texts if isinstance(item, str) else finals).append(item)
    except ProviderError as exc:
        return texts, finals, exc
    return texts, finals, None


# --- happy paths -----------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_complete_returns_text_and_provider_usage(emus, name):
    done = build(emus, name).complete(call(name))
    assert done.text.strip()
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0 and done.usage.source == "provider"
    assert done.finish_reason
    if name == "bedrock":
        assert done.model == MODELS["bedrock"]
    else:
        assert done.model.startswith("gpt-4o-mini-")  # the reported model version


@pytest.mark.parametrize("name", PROVIDERS)
def test_stream_yields_text_then_exactly_one_completion_with_usage(emus, name):
    items = list(build(emus, name).stream(call(name)))
    texts, final = items[:-1], items[-1]
    assert texts and all(isinstance(t, str) for t in texts)
    assert isinstance(final, Completion)
    assert final.text == "".join(texts)
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0 and final.finish_reason


def test_bedrock_accepts_openai_temperature_and_unalternated_turns(emus):
    turns = (
        ("system", "Be brief."),
        ("user", "Hello."),
        ("user", "Summarise: sales rose."),
        ("assistant", "Sure."),
        ("assistant", "Ready."),
        ("user", "Go on."),
    )
    done = build(emus, "bedrock").complete(call("bedrock", *turns, temperature=1.8))
    assert done.text.strip() and done.usage.output_tokens > 0


# --- faults ----------------------------------------------------------------------------

FAULTS = [
    ({"status": 429, "retry_after_s": 0.01}, RateLimited, True),
    ({"status": 408}, ProviderTimeout, True),
    ({"status": 500}, ProviderUnavailable, True),
    ({"status": 503}, ProviderUnavailable, True),
    ({"status": 400, "code": "content_filter"}, ContentFiltered, False),
    ({"status": 400, "code": "context_length_exceeded"}, ContextTooLong, False),
]


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    "fault,cls,retryable", FAULTS, ids=lambda v: str(v.get("code") or v["status"]) if isinstance(v, dict) else None
)
def test_each_fault_maps_to_its_error_class(emus, name, fault, cls, retryable):
    emu(emus, name).set_faults(**fault)
    with pytest.raises(ProviderError) as e:
        build(emus, name).complete(call(name))
    err = e.value
    assert type(err) is cls and err.retryable is retryable and err.provider == name
    assert "test-key" not in err.message and "Signature=" not in err.message


@pytest.mark.parametrize("name", PROVIDERS)
def test_fault_before_stream_starts_maps_like_a_plain_call(emus, name):
    emu(emus, name).set_faults(status=429, retry_after_s=0.01)
    texts, finals, err = drain(build(emus, name).stream(call(name)))
    assert (texts, finals) == ([], []) and isinstance(err, RateLimited)


@pytest.mark.parametrize("name", PROVIDERS)
def test_hang_becomes_a_retryable_timeout(emus, name):
    emu(emus, name).set_faults(hang_s=3)
    with pytest.raises(ProviderTimeout) as e:
        build(emus, name, timeout_s=0.3).complete(call(name))
    assert e.value.retryable


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("mode", ["drop", "error_event"])
def test_stream_cut_after_text_is_an_error_never_a_completion(emus, name, mode):
    emu(emus, name).set_faults(cut_stream_after=2, cut_mode=mode)
    texts, finals, err = drain(build(emus, name).stream(call(name, max_tokens=200)))
    assert texts and finals == []
    assert isinstance(err, StreamInterrupted) and not err.retryable
    assert err.partial_text == "".join(texts)


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("mode", ["drop", "error_event"])
def test_stream_cut_before_first_token_is_retryable(emus, name, mode):
    emu(emus, name).set_faults(cut_stream_after=0, cut_mode=mode)
    texts, finals, err = drain(build(emus, name).stream(call(name)))
    assert texts == [] and finals == []
    assert err is not None and err.retryable and not isinstance(err, StreamInterrupted)


@pytest.mark.parametrize("name", PROVIDERS)
def test_in_stream_throttle_event_maps_to_rate_limited(emus, name):
    emu(emus, name).set_faults(cut_stream_after=0, cut_mode="error_event", status=429)
    _, finals, err = drain(build(emus, name).stream(call(name)))
    assert finals == [] and isinstance(err, RateLimited)


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("attempts", [1, 2])
def test_sdk_makes_at_most_sdk_max_attempts_calls(emus, name, attempts):
    emu(emus, name).set_faults(status=503, retry_after_s=0.01)
    with pytest.raises(ProviderUnavailable):
        build(emus, name, sdk_max_attempts=attempts).complete(call(name))
    assert emu(emus, name).stats()["requests"] == attempts


@pytest.mark.parametrize(
    "name,model", [("azure", "no-such-deployment"), ("bedrock", "anthropic.no-such-model-v1:0"), ("openai", "no-such-model")]
)
def test_unknown_model_is_model_not_found(emus, name, model):
    with pytest.raises(ModelNotFound) as e:
        build(emus, name).complete(call(name, model=model))
    assert not e.value.retryable


@pytest.mark.parametrize("name", PROVIDERS)
def test_refused_connection_is_retryable_unavailable(emus, name):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the call: nothing listens there
    provider = REGISTRY[name].for_emulator(settings_for(timeout_s=2.0), f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderUnavailable) as e:
        provider.complete(call(name))
    assert e.value.retryable
