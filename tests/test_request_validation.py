"""GenerateRequest validates itself: bad input raises ValidationError naming the field."""

from __future__ import annotations

import math

import pytest

from gateway_core import ChatMessage, GenerateRequest, ValidationError
from gateway_core.types import MAX_PROMPT_CHARS

BAD = [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   \n\t"}, "prompt"),
    ({"prompt": None}, "prompt"),
    ({"prompt": 42}, "prompt"),
    ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "prompt"),
    ({"prompt": "a\x00b"}, "prompt"),
    ({"prompt": "bad \ud800 surrogate"}, "prompt"),
    ({"prompt": "hi", "task": "poem"}, "task"),
    ({"prompt": "hi", "task": None}, "task"),
    ({"prompt": "hi", "priority": "fastest"}, "priority"),
    ({"prompt": "hi", "provider_hint": "gcp"}, "provider_hint"),
    ({"prompt": "hi", "max_tokens": 0}, "max_tokens"),
    ({"prompt": "hi", "max_tokens": -1}, "max_tokens"),
    ({"prompt": "hi", "max_tokens": 10**9}, "max_tokens"),
    ({"prompt": "hi", "max_tokens": "100"}, "max_tokens"),
    ({"prompt": "hi", "max_tokens": True}, "max_tokens"),
    ({"prompt": "hi", "max_tokens": 1.5}, "max_tokens"),
    ({"prompt": "hi", "temperature": math.nan}, "temperature"),
    ({"prompt": "hi", "temperature": -1}, "temperature"),
    ({"prompt": "hi", "temperature": 3}, "temperature"),
    ({"prompt": "hi", "temperature": "warm"}, "temperature"),
    ({"prompt": "hi", "user": "x" * 500}, "user"),
    ({"prompt": "hi", "user": "bad\nname"}, "user"),
    ({"prompt": "hi", "fallback": "yes"}, "fallback"),
    ({"prompt": "hi", "messages": ()}, "messages"),
    ({"prompt": "hi", "messages": (ChatMessage("robot", "x"),)}, "messages[0].role"),
    ({"prompt": "hi", "messages": (ChatMessage("user", ""),)}, "messages[0].content"),
]


@pytest.mark.parametrize("kwargs, field", BAD)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ValidationError) as info:
        GenerateRequest(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_good_request_keeps_its_values():
    r = GenerateRequest(
        prompt="hi", task="summarise", priority="low_cost", provider_hint="bedrock", max_tokens=100, temperature=0.5, user="alice"
    )
    assert (r.task, r.priority, r.provider_hint, r.max_tokens, r.temperature) == ("summarise", "low_cost", "bedrock", 100, 0.5)
