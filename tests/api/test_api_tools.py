"""Tools, structured outputs, stop sequences and refusals through the OpenAI-compatible route
and ``/generate``, on both providers, with the official SDK over real HTTP."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from pydantic import BaseModel

PROVIDERS = ["azure", "bedrock"]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_round_trip_calls_the_tool_then_answers_from_its_result(sdk, provider):
    first = sdk.chat.completions.create(model=provider, messages=ASK, tools=[WEATHER], extra_body={"fallback": False})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, WEATHER["function"]["parameters"])
    assert args["city"] == "Paris"
    history = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
    ]
    second = sdk.chat.completions.create(model=provider, messages=history, tools=[WEATHER], extra_body={"fallback": False})
    assert second.choices[0].finish_reason == "stop" and not second.choices[0].message.tool_calls
    assert "18C and sunny" in second.choices[0].message.content
    assert second.model_extra["x_gateway"]["provider"] == provider


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_tool_calls_arrive_as_deltas_that_assemble_into_valid_arguments(sdk, provider):
    chunks = list(
        sdk.chat.completions.create(model=provider, messages=ASK, tools=[WEATHER], stream=True, extra_body={"fallback": False})
    )
    pieces = [tc for ch in chunks if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])]
    assert pieces[0].id and pieces[0].function.name == "get_weather"
    arguments = "".join(p.function.arguments or "" for p in pieces)
    assert json.loads(arguments)["city"] == "Paris"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason] == ["tool_calls"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_tool_calls_unless_switched_off(sdk, provider):
    ask = [{"role": "user", "content": "What is the weather and the local time in Paris?"}]
    both = sdk.chat.completions.create(model=provider, messages=ask, tools=[WEATHER, TIME], extra_body={"fallback": False})
    assert {c.function.name for c in both.choices[0].message.tool_calls} == {"get_weather", "get_time"}
    one = sdk.chat.completions.create(
        model=provider, messages=ask, tools=[WEATHER, TIME], parallel_tool_calls=False, extra_body={"fallback": False}
    )
    assert len(one.choices[0].message.tool_calls) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "choice, expect",
    [("none", None), ("required", "get_time"), ({"type": "function", "function": {"name": "get_time"}}, "get_time")],
    ids=["none", "required", "named"],
)
def test_tool_choice_is_honoured(sdk, provider, choice, expect):
    ask = [{"role": "user", "content": "What time is it in Paris?"}]
    r = sdk.chat.completions.create(
        model=provider, messages=ask, tools=[WEATHER, TIME], tool_choice=choice, extra_body={"fallback": False}
    )
    calls = r.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls][:1] == ([expect] if expect else [])
    assert r.choices[0].finish_reason == ("tool_calls" if expect else "stop")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parse_with_a_pydantic_model_works_on_both_providers(sdk, provider):
    r = sdk.chat.completions.parse(
        model=provider, messages=[{"role": "user", "content": "Alice is 30 years old."}], response_format=Person
    )
    assert r.choices[0].message.parsed == Person(name="Alice", age=30)
    assert r.model_extra["x_gateway"]["provider"] == provider


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_object_answers_are_json_objects(sdk, provider):
    r = sdk.chat.completions.create(
        model=provider,
        messages=[{"role": "user", "content": 'Describe Paris as JSON like {"city": "...", "country": "..."}'}],
        response_format={"type": "json_object"},
    )
    value = json.loads(r.choices[0].message.content)
    assert isinstance(value, dict) and set(value) == {"city", "country"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stop_cuts_the_answer_before_the_sequence(sdk, provider):
    ask = [{"role": "user", "content": "Tell me about routing and latency"}]
    first = sdk.chat.completions.create(model=provider, messages=ask)
    full = first.choices[0].message.content
    word = full.split()[4]
    # The same model again: routing may pick another of the provider's models, and the text depends on it.
    r = sdk.chat.completions.create(model=first.model, messages=ask, stop=[word])
    assert word not in r.choices[0].message.content and full.startswith(r.choices[0].message.content)
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    "field, value",
    [("logprobs", True), ("n", 3), ("audio", {"voice": "alloy", "format": "mp3"}), ("functions", [{"name": "f"}])],
)
def test_what_cannot_be_honoured_is_a_400_naming_the_parameter(sdk, field, value):
    with pytest.raises(openai.BadRequestError) as e:
        sdk.chat.completions.create(model="auto", messages=ASK, extra_body={field: value})
    assert e.value.param == field


def test_a_tool_result_that_answers_no_call_is_refused_before_any_provider_is_called(sdk, gw):
    before = {name: emu.stats()["requests"] for name, emu in gw.emulators.running().items()}
    with pytest.raises(openai.BadRequestError) as e:
        sdk.chat.completions.create(model="auto", messages=[*ASK, {"role": "tool", "tool_call_id": "call_x", "content": "r"}])
    assert e.value.param == "messages[1].tool_call_id"
    assert {name: emu.stats()["requests"] for name, emu in gw.emulators.running().items()} == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_generate_takes_messages_tools_and_returns_tool_calls(http, provider):
    tool = {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": WEATHER["function"]["parameters"],
    }
    body = {"messages": ASK, "tools": [tool], "provider_hint": provider, "fallback": False}
    r = http.post("/generate", json=body).json()
    assert r["finish_reason"] == "tool_calls"
    (call,) = r["tool_calls"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"])["city"] == "Paris"
    history = [
        *ASK,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18C and sunny"},
    ]
    r = http.post("/generate", json={**body, "messages": history}).json()
    assert r["finish_reason"] == "stop" and "18C and sunny" in r["text"] and r["tool_calls"] == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_generate_response_format_and_stop(http, provider):
    schema = Person.model_json_schema()
    body = {
        "prompt": "Alice is 30 years old.",
        "provider_hint": provider,
        "response_format": {"type": "json_schema", "schema": schema, "name": "person"},
    }
    r = http.post("/generate", json=body).json()
    jsonschema.validate(json.loads(r["text"]), schema)
    r = http.post("/generate", json={"prompt": "Tell me about routing", "provider_hint": provider, "stop": "routing"}).json()
    assert "routing" not in r["text"] and r["finish_reason"] == "stop"


def test_generate_refuses_prompt_and_messages_together(http):
    r = http.post("/generate", json={"prompt": "hi", "messages": ASK})
    assert r.status_code == 422 and r.json()["error"]["field"] == "prompt"
