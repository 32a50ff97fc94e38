"""Tool use and JSON answers in the emulators, through the official SDKs: arguments and answers
that validate against the declared schemas, the wire shapes of streamed tool calls, and the
services' documented validation errors."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from botocore.exceptions import ClientError

from gateway_core.emulators.schema_values import Context, from_pattern, value_for

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city"],
}
AZURE_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_SCHEMA},
}
BEDROCK_TOOLS = {
    "tools": [{"toolSpec": {"name": "get_weather", "description": "Weather for a city", "inputSchema": {"json": WEATHER_SCHEMA}}}]
}
ASK = "What is the weather in Paris for the next 3 days?"

SCHEMAS = [
    WEATHER_SCHEMA,
    {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3, "uniqueItems": False}
        },
        "required": ["tags"],
    },
    {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}}, "required": ["code"]},
    {
        "type": "object",
        "properties": {"when": {"type": "string", "format": "date"}, "mail": {"type": "string", "format": "email"}},
    },
    {"type": "object", "properties": {"x": {"anyOf": [{"type": "null"}, {"type": "number", "multipleOf": 0.5, "minimum": 2}]}}},
    {"type": "object", "properties": {"kind": {"enum": ["fast", "slow"]}, "n": {"const": 3}, "ok": {"type": "boolean"}}},
    {
        "$defs": {
            "Pet": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "legs": {"type": "integer"}},
                "required": ["name", "legs"],
            }
        },
        "type": "object",
        "properties": {"pets": {"type": "array", "items": {"$ref": "#/$defs/Pet"}}},
        "required": ["pets"],
    },
    {
        "type": "object",
        "allOf": [
            {"properties": {"a": {"type": "string", "minLength": 5}}, "required": ["a"]},
            {"properties": {"b": {"type": ["integer", "null"], "exclusiveMinimum": 10}}, "required": ["b"]},
        ],
    },
    {
        "type": "object",
        "properties": {"t": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2}},
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_generated_values_validate_against_their_schema(schema):
    value = value_for(schema, Context.of("Alice flew 3 days to Paris with 2 cats; the fast one is 12."))
    jsonschema.validate(value, schema)


def test_values_are_filled_from_the_conversation():
    assert value_for(WEATHER_SCHEMA, Context.of(ASK)) == {"city": "Paris", "days": 3}
    assert from_pattern(r"^\+?[0-9]{7,15}$") is not None and from_pattern(r"(?<=x)y") is None


def test_azure_calls_the_relevant_tool_with_arguments_from_its_schema(azure):
    r = azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}], tools=[AZURE_TOOL])
    (call,) = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.content is None
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_SCHEMA)
    assert call.id.startswith("call_")


@pytest.mark.parametrize(
    "kwargs, param, text",
    [
        (
            {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"},
            "tool_choice",
            "'tool_choice' is only allowed when 'tools' are specified",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
            "messages.[1].role",
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
            "messages",
            "must contain the word 'json'",
        ),
        (
            {
                "messages": [{"role": "user", "content": "hi"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "strict": True, "schema": WEATHER_SCHEMA},
                },
            },
            "response_format",
            "'additionalProperties' is required to be supplied and to be false",
        ),
    ],
    ids=["choice_without_tools", "orphan_tool_message", "json_object_without_json", "open_strict_schema"],
)
def test_azure_refuses_what_the_service_refuses(azure, kwargs, param, text):
    with pytest.raises(openai.BadRequestError) as e:
        azure.chat.completions.create(model="gpt-4o-mini", **kwargs)
    assert e.value.param == param and text in e.value.message


def test_azure_answers_a_json_schema_format_with_valid_json(azure):
    schema = SCHEMAS[6]
    r = azure.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Rex has 4 legs."}],
        response_format={"type": "json_schema", "json_schema": {"name": "pets", "schema": schema}},
    )
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_bedrock_streams_tool_use_as_block_start_and_input_deltas(bedrock):
    resp = bedrock.converse_stream(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": ASK}]}], toolConfig=BEDROCK_TOOLS
    )
    events = list(resp["stream"])
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert len(starts) == 1 and starts[0]["start"]["toolUse"]["name"] == "get_weather"
    index = starts[0]["contentBlockIndex"]
    assert index == 1  # after Claude's own preamble, text block 0
    pieces = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})
    ]
    jsonschema.validate(json.loads("".join(pieces)), WEATHER_SCHEMA)
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == ["tool_use"]


def test_bedrock_forced_tool_has_no_preamble_and_answers_through_the_tool(bedrock):
    tools = {**BEDROCK_TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}}
    r = bedrock.converse(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "Oslo"}]}], toolConfig=tools)
    content = r["output"]["message"]["content"]
    assert [list(b) for b in content] == [["toolUse"]] and r["stopReason"] == "tool_use"
    jsonschema.validate(content[0]["toolUse"]["input"], WEATHER_SCHEMA)


def _converse_error(bedrock, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        bedrock.converse(modelId=HAIKU, **kwargs)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    return e.value.response["Error"]["Message"]


USE = {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}}
RESULT = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}}


def test_bedrock_tool_result_must_follow_a_tool_use(bedrock):
    msgs = [
        {"role": "user", "content": [{"text": "hi"}]},
        {"role": "assistant", "content": [{"text": "ok"}]},
        {"role": "user", "content": [RESULT]},
    ]
    message = _converse_error(bedrock, messages=msgs, toolConfig=BEDROCK_TOOLS)
    assert (
        message == "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks of previous turn."
    )


def test_bedrock_every_tool_use_needs_its_result(bedrock):
    msgs = [
        {"role": "user", "content": [{"text": "hi"}]},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": [{"text": "and?"}]},
    ]
    message = _converse_error(bedrock, messages=msgs, toolConfig=BEDROCK_TOOLS)
    assert message == "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_1"


def test_bedrock_tool_blocks_need_a_tool_config(bedrock):
    msgs = [
        {"role": "user", "content": [{"text": "hi"}]},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": [RESULT]},
    ]
    assert "toolConfig field must be defined" in _converse_error(bedrock, messages=msgs)


def test_bedrock_answers_from_tool_results_in_text(bedrock):
    msgs = [
        {"role": "user", "content": [{"text": ASK}]},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": [RESULT]},
    ]
    r = bedrock.converse(modelId=HAIKU, messages=msgs, toolConfig=BEDROCK_TOOLS)
    assert r["stopReason"] == "end_turn" and "sunny" in r["output"]["message"]["content"][0]["text"]


def test_stop_sequences_are_honoured_by_both_emulators(azure, bedrock):
    ask = "Tell me about routing and latency"
    full = (
        azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ask}]).choices[0].message.content
    )
    cut = azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ask}], stop=["latency"])
    assert "latency" in full and "latency" not in cut.choices[0].message.content
    r = bedrock.converse(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": ask}]}], inferenceConfig={"stopSequences": ["latency"]}
    )
    assert r["stopReason"] == "stop_sequence" and "latency" not in r["output"]["message"]["content"][0]["text"]
