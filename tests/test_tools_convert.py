"""Tools, tool choice, JSON formats and stop sequences through the pure converters and the
request's own checks: plain values in, plain values out, no network."""

from __future__ import annotations

import json

import pytest

from gateway_core.errors import ValidationError
from gateway_core.providers import converse
from gateway_core.providers import openai_wire as ow
from gateway_core.providers.base import ProviderCall
from gateway_core.tools import ResponseFormat, Tool, ToolCall, ToolCallDelta
from gateway_core.types import ChatMessage, GenerateRequest

M = ChatMessage
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = Tool("get_weather", SCHEMA, "Weather for a city")
TIME = Tool("get_time", SCHEMA)
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
HISTORY = (M("user", "Weather in Oslo?"), M("assistant", "", (CALL,)), M("tool", "sunny", tool_call_id="call_1"))
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": False}


HI = (M("user", "hi"),)


def call(messages=HI, **kw) -> ProviderCall:
    return ProviderCall("m", tuple(messages), 64, **kw)


@pytest.mark.parametrize(
    "choice, wire",
    [
        (None, {"auto": {}}),
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ("get_time", {"tool": {"name": "get_time"}}),
    ],
)
def test_converse_tool_choice(choice, wire):
    config = converse.to_wire(call(tools=(WEATHER, TIME), tool_choice=choice))["toolConfig"]
    assert config["toolChoice"] == wire
    assert config["tools"][0] == {
        "toolSpec": {"name": "get_weather", "description": "Weather for a city", "inputSchema": {"json": SCHEMA}}
    }


def test_converse_tool_history_becomes_tool_use_and_tool_result_blocks():
    wire = converse.to_wire(call(HISTORY, tools=(WEATHER,)))
    assert wire["messages"][1] == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}}],
    }
    assert wire["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "sunny"}]}}],
    }


def test_converse_tool_choice_none_sends_the_history_as_text_and_offers_no_tool():
    wire = converse.to_wire(call(HISTORY, tools=(WEATHER,), tool_choice="none"))
    assert "toolConfig" not in wire
    assert all("text" in block for m in wire["messages"] for block in m["content"])


def test_converse_response_format_is_one_forced_tool_and_its_input_is_the_answer():
    fmt = ResponseFormat("json_schema", PERSON, "person", True)
    wire = converse.to_wire(call(response_format=fmt, stop=("END",), top_p=0.5))
    assert wire["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}
    assert wire["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": PERSON}
    assert wire["inferenceConfig"]["stopSequences"] == ["END"] and wire["inferenceConfig"]["topP"] == 0.5
    answer = {
        "output": {"message": {"content": [{"toolUse": {"toolUseId": "t1", "name": "json_response", "input": {"name": "Ann"}}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 3},
    }
    c = converse.from_wire(answer, model="m", call=call(response_format=fmt))
    assert (json.loads(c.text), c.finish_reason, c.tool_calls) == ({"name": "Ann"}, "stop", ())


def test_converse_response_format_beside_tools_requires_one_of_them():
    wire = converse.to_wire(call(tools=(WEATHER,), response_format=ResponseFormat("json_object")))
    assert wire["toolConfig"]["toolChoice"] == {"any": {}}
    assert [t["toolSpec"]["name"] for t in wire["toolConfig"]["tools"]] == ["get_weather", "json_response"]
    taken = Tool("json_response", SCHEMA)
    assert converse.response_tool_name(call(tools=(taken,), response_format=ResponseFormat("json_object"))) == "json_response_1"


def test_converse_stream_tool_use_becomes_tool_call_pieces():
    acc = converse.EventAccumulator("m", call=call(tools=(WEATHER,)))
    events = [
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Let me check."}}},
        {"contentBlockStart": {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city": '}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"Oslo"}'}}}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 9, "outputTokens": 4}}},
    ]
    out = [item for ev in events for item in acc.feed(ev)]
    assert out == [
        "Let me check.",
        ToolCallDelta(0, "t1", "get_weather", ""),
        ToolCallDelta(0, arguments='{"city": '),
        ToolCallDelta(0, arguments='"Oslo"}'),
    ]
    done = acc.finish()
    assert done.tool_calls == (ToolCall("t1", "get_weather", '{"city": "Oslo"}'),) and done.finish_reason == "tool_calls"


def test_converse_without_parallel_calls_keeps_the_first():
    uses = [
        {"toolUse": {"toolUseId": f"t{i}", "name": n, "input": {"city": "x"}}} for i, n in enumerate(("get_weather", "get_time"))
    ]
    payload = {"output": {"message": {"content": uses}}, "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 1}}
    assert len(converse.from_wire(payload, call=call(tools=(WEATHER, TIME))).tool_calls) == 2
    assert [
        c.name for c in converse.from_wire(payload, call=call(tools=(WEATHER, TIME), parallel_tool_calls=False)).tool_calls
    ] == ["get_weather"]


def test_openai_wire_maps_every_option_natively():
    wire = ow.to_wire(
        call(HISTORY, tools=(WEATHER,), tool_choice="get_weather", stop=("x",), top_p=0.3, parallel_tool_calls=False)
    )
    assert wire["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA, "description": "Weather for a city"}}
    ]
    assert wire["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert (wire["stop"], wire["top_p"], wire["parallel_tool_calls"]) == (["x"], 0.3, False)
    assert wire["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    }
    assert wire["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    fmt = ow.to_wire(call(response_format=ResponseFormat("json_schema", PERSON, "person", True)))["response_format"]
    assert fmt == {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


def test_openai_wire_says_json_when_json_object_is_asked_and_no_message_does():
    wire = ow.to_wire(call(response_format=ResponseFormat("json_object")))
    assert wire["messages"][0] == {"role": "system", "content": ow.JSON_OBJECT_HINT}
    wire = ow.to_wire(call((M("user", "answer in JSON"),), response_format=ResponseFormat("json_object")))
    assert len(wire["messages"]) == 1


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"messages": (M("user", "hi"), M("tool", "r", tool_call_id="nope"))}, "messages[1].tool_call_id"),
        ({"messages": (M("user", "hi"), M("assistant", "", (CALL,)), M("user", "and?"))}, "messages[1].tool_calls"),
        (
            {"messages": (M("user", "hi"), M("assistant", "", (ToolCall("c", "f", "[1]"),)), M("tool", "r", tool_call_id="c"))},
            "messages[1].tool_calls[0].function.arguments",
        ),
        ({"prompt": "hi", "tool_choice": "get_time", "tools": (WEATHER,)}, "tool_choice"),
        ({"prompt": "hi", "tool_choice": "required"}, "tool_choice"),
        ({"prompt": "hi", "tools": (Tool("bad name", SCHEMA),)}, "tools[0].name"),
        ({"prompt": "hi", "tools": (Tool("f", {"type": "string"}),)}, "tools[0].parameters"),
        ({"prompt": "hi", "tools": (Tool("f", {"type": "object", "properties": 5}),)}, "tools[0].parameters"),
        ({"prompt": "hi", "tools": (WEATHER, WEATHER)}, "tools[1].name"),
        ({"prompt": "hi", "tools": (Tool("f", SCHEMA, strict=True),)}, "tools[0].parameters"),
        (
            {"prompt": "hi", "response_format": ResponseFormat("json_schema", {"type": "object"}, "x", True)},
            "response_format.schema",
        ),
        ({"prompt": "hi", "response_format": ResponseFormat("yaml")}, "response_format.type"),
        ({"prompt": "hi", "stop": ("a", "b", "c", "d", "e")}, "stop"),
        ({"prompt": "hi", "stop": ("",)}, "stop[0]"),
        ({"prompt": "hi", "top_p": 1.5}, "top_p"),
        ({"messages": (M("system", "be brief"),)}, "messages"),
    ],
)
def test_requests_that_break_the_tool_and_format_rules_name_the_field(kw, field):
    with pytest.raises(ValidationError) as e:
        GenerateRequest(**kw)
    assert e.value.field == field


def test_a_request_from_messages_takes_its_prompt_from_the_last_user_turn():
    assert GenerateRequest(messages=HISTORY, tools=(WEATHER,)).prompt == "Weather in Oslo?"


def test_tool_and_response_schemas_count_in_the_token_estimate():
    from gateway_core.tokens import TokenCounter, tool_texts

    counter = TokenCounter(loader=lambda name: (_ for _ in ()).throw(OSError("offline")))  # the labelled heuristic
    plain = GenerateRequest(prompt="Weather in Oslo?")
    with_tools = GenerateRequest(prompt="Weather in Oslo?", tools=(WEATHER, TIME))
    with_format = GenerateRequest(prompt="Weather in Oslo?", response_format=ResponseFormat("json_schema", PERSON, "p"))
    msgs = (M("user", "Weather in Oslo?"),)
    base = counter.estimate_messages("gpt-4o", msgs, tools=tool_texts(plain)).tokens
    tools = counter.estimate_messages("gpt-4o", msgs, tools=tool_texts(with_tools)).tokens
    fmt = counter.estimate_messages("gpt-4o", msgs, tools=tool_texts(with_format)).tokens
    schema_chars = sum(len(t) for t in tool_texts(with_tools))
    assert tools - base == 2 * 8 + sum(-(-len(t) // 4) for t in tool_texts(with_tools)) and schema_chars > 100
    assert fmt > base
