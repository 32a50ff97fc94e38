"""Real OpenAI clients against ``gateway serve`` in demo mode, on both providers: the official
``openai`` SDK (create, stream, a tools round trip, ``parse()``), LangChain's ``ChatOpenAI``
(a ``bind_tools`` round trip, ``with_structured_output`` by all three methods) and the
``llm`` command line. Each client is used as its documentation shows; only the base URL
and key point at the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from client_support import client_env
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import OpenAI
from pydantic import BaseModel

PROVIDERS = ["azure", "bedrock"]
# The llm tests compare two answers, so each pins one model: a provider name lets routing pick
# between that provider's models, and the emulator's text depends on the model.
PINNED = {"azure": "gpt-4o-mini", "bedrock": "anthropic.claude-3-haiku-20240307-v1:0"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    age: int


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"18C and sunny in {city}"


@pytest.fixture(scope="module")
def sdk(gateway):
    with OpenAI(base_url=gateway.url + "/v1", api_key=gateway.key) as client:
        yield client


def chat_model(gateway, provider: str) -> ChatOpenAI:
    return ChatOpenAI(model=provider, base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)


# --- the openai SDK ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_sdk_create_and_stream(sdk, provider):
    reply = sdk.chat.completions.create(model=provider, messages=[{"role": "user", "content": "Name three rivers."}])
    assert reply.choices[0].message.content and reply.usage.total_tokens > 0
    assert reply.model_extra["x_gateway"]["provider"] == provider
    chunks = list(
        sdk.chat.completions.create(
            model=reply.model,  # routing may pick another of the provider's models; the text depends on it
            messages=[{"role": "user", "content": "Name three rivers."}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == reply.choices[0].message.content  # the emulators answer deterministically
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_sdk_tools_round_trip(sdk, provider):
    messages = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    first = sdk.chat.completions.create(model=provider, messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Lisbon"})
    messages += [first.choices[0].message, {"role": "tool", "tool_call_id": call.id, "content": "21C, clear"}]
    final = sdk.chat.completions.create(model=provider, messages=messages, tools=[WEATHER])
    assert final.choices[0].finish_reason == "stop" and "21C, clear" in final.choices[0].message.content


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_sdk_parse(sdk, provider):
    r = sdk.chat.completions.parse(
        model=provider, messages=[{"role": "user", "content": "Grace is 85 years old."}], response_format=Person
    )
    assert r.choices[0].message.parsed == Person(name="Grace", age=85)


# --- LangChain -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_langchain_bind_tools_round_trip(gateway, provider):
    model = chat_model(gateway, provider).bind_tools([get_weather])
    history = [HumanMessage("What is the weather in Oslo?")]
    ai = model.invoke(history)
    (call,) = ai.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Oslo"})
    history += [ai, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    answer = model.invoke(history)
    assert not answer.tool_calls and "18C and sunny in Oslo" in answer.content


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_langchain_with_structured_output(gateway, provider, method):
    prompt = "Ada is 36 years old."
    if method == "json_mode":  # json_mode needs the prompt to describe the JSON, as LangChain documents
        prompt += " Answer in JSON matching this schema: " + json.dumps(Person.model_json_schema())
    person = chat_model(gateway, provider).with_structured_output(Person, method=method).invoke(prompt)
    assert person == Person(name="Ada", age=36)


# --- the llm command line ------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_env(gateway, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("llm")
    models = [
        f"- model_id: gw-{p}\n  model_name: {PINNED[p]}\n  api_base: {gateway.url}/v1\n  api_key_name: gateway\n"
        "  supports_schema: true\n  supports_tools: true\n"
        for p in PROVIDERS
    ]
    (home / "extra-openai-models.yaml").write_text("".join(models))
    (home / "keys.json").write_text(json.dumps({"gateway": gateway.key}))
    return {**client_env(), "LLM_USER_PATH": str(home)}


def run_llm(env, *args) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("llm")), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("provider", PROVIDERS)
def test_llm_cli_prompts_streams_and_asks_for_json(llm_env, sdk, provider):
    expected = sdk.chat.completions.create(model=PINNED[provider], messages=[{"role": "user", "content": "Name three rivers."}])
    assert run_llm(llm_env, "-m", f"gw-{provider}", "Name three rivers.").strip() == expected.choices[0].message.content.strip()
    assert run_llm(llm_env, "-m", f"gw-{provider}", "--no-stream", "Name three rivers.").strip() == (
        expected.choices[0].message.content.strip()
    )
    answer = json.loads(run_llm(llm_env, "-m", f"gw-{provider}", "-o", "json_object", "1", "Describe Paris as JSON."))
    assert isinstance(answer, dict) and answer
    person = json.loads(run_llm(llm_env, "-m", f"gw-{provider}", "--schema", "name str, age int", "Bob is 41 years old."))
    assert person == {"name": "Bob", "age": 41}
