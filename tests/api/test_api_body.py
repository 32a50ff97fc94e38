"""The strict body reader and the route converters, tested on bytes and dicts (no server)."""

from __future__ import annotations

import pytest

from gateway_core.api.bodies import generate_request
from gateway_core.api.body import MAX_JSON_DEPTH, check_content_type, parse_object
from gateway_core.api.chat_body import chat_request
from gateway_core.api.errors import ApiError
from gateway_core.errors import ValidationError

CANDIDATES = [("azure", "gpt-4o-mini"), ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")]


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = parse_object(('{"prompt": "' + "[{" * 500 + '"}').encode())
    assert body["prompt"].startswith("[{[{")


def test_nesting_at_the_limit_parses_and_one_deeper_is_refused():
    ok = '{"a": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    assert "a" in parse_object(ok.encode())
    too_deep = '{"a": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    with pytest.raises(ApiError, match="nested"):
        parse_object(too_deep.encode())


def test_duplicate_keys_in_a_nested_object_name_the_key():
    with pytest.raises(ApiError) as e:
        parse_object(b'{"messages": [{"role": "user", "role": "system", "content": "x"}]}')
    assert e.value.field == "role"


def test_non_finite_number_is_reported_with_its_path():
    with pytest.raises(ApiError) as e:
        parse_object(b'{"messages": [{"role": "user", "content": "x", "weight": -Infinity}]}')
    assert e.value.field == "messages[0].weight"


def test_utf8_bom_is_tolerated_and_huge_integers_are_refused_cleanly():
    assert parse_object(b'\xef\xbb\xbf{"prompt": "x"}') == {"prompt": "x"}
    with pytest.raises(ApiError, match="out of range"):
        parse_object(b'{"max_tokens": ' + b"9" * 5000 + b"}")


@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
)
def test_json_content_types_are_accepted(ctype):
    check_content_type(ctype)


@pytest.mark.parametrize("ctype", [None, "", "text/plain", "multipart/form-data; boundary=x", "application/jsonx"])
def test_other_content_types_are_415(ctype):
    with pytest.raises(ApiError) as e:
        check_content_type(ctype)
    assert e.value.status == 415


def test_v1_model_names_map_to_hint_pin_or_auto():
    auto, _ = chat_request({"model": "auto", "messages": [{"role": "user", "content": "x"}]}, CANDIDATES)
    assert (auto.provider_hint, auto.model) == (None, None)
    req, _ = chat_request({"model": "bedrock", "messages": [{"role": "user", "content": "x"}]}, CANDIDATES)
    assert (req.provider_hint, req.model) == ("bedrock", None)
    req, _ = chat_request({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}, CANDIDATES)
    assert (req.provider_hint, req.model) == (None, "gpt-4o-mini")


def test_v1_prompt_is_the_last_user_turn_and_all_turns_are_kept():
    req, opts = chat_request(
        {
            "model": "auto",
            "stream": True,
            "stream_options": {"include_usage": True},
            "seed": 7,  # on the documented ignore list
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "sec"}, {"type": "text", "text": "ond"}]},
            ],
        },
        CANDIDATES,
    )
    assert req.prompt == "second"
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "user"]
    assert opts.stream and opts.include_usage


def test_max_completion_tokens_wins_over_max_tokens():
    req, _ = chat_request(
        {"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "max_completion_tokens": 20},
        CANDIDATES,
    )
    assert req.max_tokens == 20


def test_both_routes_refuse_unknown_fields_naming_them():
    with pytest.raises(ValidationError) as e:
        generate_request({"prompt": "x", "temprature": 0.5}, CANDIDATES)
    assert e.value.field == "temprature"
    with pytest.raises(ValidationError) as e:
        chat_request({"model": "auto", "messages": [{"role": "user", "content": "x"}], "temprature": 9}, CANDIDATES)
    assert e.value.field == "temprature"


V1_MIN = {"model": "auto", "messages": [{"role": "user", "content": "x"}]}


@pytest.mark.parametrize(
    "field, value",
    [
        ("n", 2),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("frequency_penalty", 0.5),
        ("presence_penalty", -1),
        ("logit_bias", {"50256": -100}),
        ("modalities", ["text", "audio"]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("prediction", {"type": "content", "content": "x"}),
        ("functions", [{"name": "f", "parameters": {"type": "object"}}]),
        ("function_call", "auto"),
        ("reasoning_effort", "high"),
    ],
)
def test_v1_refuses_what_it_cannot_honour_naming_the_parameter(field, value):
    with pytest.raises(ValidationError) as e:
        chat_request({**V1_MIN, field: value}, CANDIDATES)
    assert e.value.field == field


@pytest.mark.parametrize(
    "extra",
    [
        {"n": 1, "logprobs": False, "frequency_penalty": 0, "presence_penalty": 0, "logit_bias": {}, "modalities": ["text"]},
        {"seed": 3, "metadata": {"k": "v"}, "store": False, "service_tier": "auto"},
    ],
    ids=["do_nothing_values", "ignore_list"],
)
def test_v1_accepts_do_nothing_values_and_the_ignore_list(extra):
    req, _ = chat_request({**V1_MIN, **extra}, CANDIDATES)
    assert req.prompt == "x"


def test_v1_stop_and_top_p_reach_the_request():
    req, _ = chat_request({**V1_MIN, "stop": "END", "top_p": 0.5}, CANDIDATES)
    assert (req.stop, req.top_p) == (("END",), 0.5)
    req, _ = chat_request({**V1_MIN, "stop": ["a", "b"]}, CANDIDATES)
    assert req.stop == ("a", "b")
    with pytest.raises(ValidationError) as e:
        chat_request({**V1_MIN, "stop": ["a", "b", "c", "d", "e"]}, CANDIDATES)
    assert e.value.field == "stop"
