"""The emulators follow simple instructions written in a prompt: a number of bullets,
sentences or words, one word, and JSON asked for in words; through the real SDKs too."""

from __future__ import annotations

import json
import re

import pytest

from gateway_core.emulators import instructions, text

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
VOICES = [("azure", "gpt-4o-mini"), ("bedrock", HAIKU)]
REPORT = (
    "Our support team answered 1,240 tickets in March, 18% more than in February. Average first response time fell "
    "from 4.1 hours to 2.6 hours after the new triage rota. Refund requests doubled after the price change on 3 March. "
    "Customers praised the faster replies but asked for weekend cover. The team plans a pilot in May."
)


def answer(provider: str, model: str, prompt: str) -> str:
    return text.generate(provider, model, "You are a helpful assistant.", [("user", prompt)])


def bullets(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("- ")]


def sentences(out: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", out.strip()) if s]


@pytest.mark.parametrize(
    "prompt,shape",
    [
        ("Summarise in three bullets: x", instructions.Shape(bullets=3)),
        ("Give me 5 bullet points on caching", instructions.Shape(bullets=5)),
        ("Explain circuit breakers in two sentences.", instructions.Shape(sentences=2)),
        ("Answer in one sentence: why log costs?", instructions.Shape(sentences=1)),
        ("Describe it in under 12 words", instructions.Shape(words=12)),
        ("In one word, what is the mood here?", instructions.Shape(words=1)),
        ("Give a one-word answer: yes or no?", instructions.Shape(words=1)),
        ("Return JSON with the keys name, team and topic for: x", instructions.Shape(json=True, keys=("name", "team", "topic"))),
        ("Reply with a JSON object: x", instructions.Shape(json=True)),
        ("Explain what JSON is.", instructions.Shape()),
        ("Tell me about routing", instructions.Shape()),
    ],
)
def test_instructions_are_read_from_the_words_of_the_prompt(prompt, shape):
    assert instructions.parse(prompt) == shape


@pytest.mark.parametrize("provider,model", VOICES)
@pytest.mark.parametrize("n,word", [(1, "one"), (3, "three"), (6, "six")])
def test_a_requested_number_of_bullets_is_what_comes_back(provider, model, n, word):
    summary = bullets(answer(provider, model, f"Summarise in {word} bullets: {REPORT}"))
    assert len(summary) == n
    assert all(b[2:] in REPORT for b in summary[:4])  # a summary's bullets are the text's own sentences
    assert len(bullets(answer(provider, model, f"Give me {word} bullet points on reducing GPU idle time."))) == n


@pytest.mark.parametrize("provider,model", VOICES)
@pytest.mark.parametrize("n", [1, 2, 4])
def test_a_requested_number_of_sentences_is_what_comes_back(provider, model, n):
    out = answer(provider, model, f"Explain circuit breakers in {n} sentences.")
    assert len(sentences(out)) == n and "\n" not in out
    assert "circuit breakers" in out.lower()


@pytest.mark.parametrize("provider,model", VOICES)
def test_a_word_limit_and_one_word_answers(provider, model):
    assert len(answer(provider, model, "Describe our caching strategy in 12 words.").split()) == 12
    mood = answer(provider, model, "In one word, what is the sentiment of: 'The new dashboard is fast and easy to use.'")
    assert mood.rstrip(".") == "Positive"
    label = answer(
        provider, model, "Classify this ticket as billing, technical or sales in one word: my invoice was charged twice"
    )
    assert label.rstrip(".") == "Billing"


@pytest.mark.parametrize("provider,model", VOICES)
def test_json_asked_for_in_words_parses_and_has_the_named_keys(provider, model):
    out = answer(
        provider, model, "Return JSON with the keys name, team and topic for: Dana from support asked about a duplicated invoice."
    )
    assert json.loads(out) == {"name": "Dana", "team": "support", "topic": "duplicated invoice"}
    facts = json.loads(answer(provider, model, "Return the result as JSON: Alice Smith paid $40 on 2024-03-01 for a refund."))
    assert facts == {"date": "2024-03-01", "amount": "$40", "name": "Alice Smith"}


def test_without_an_instruction_the_usual_voices_remain():
    azure = answer("azure", "gpt-4o", "Explain backpressure in streaming systems")
    claude = answer("bedrock", HAIKU, "Explain backpressure in streaming systems")
    assert bullets(azure) and not bullets(claude) and len(claude) > len(azure)


def test_both_sdks_get_the_shape_that_was_asked_for(azure, bedrock):
    prompt = f"Summarise in three bullets: {REPORT}"
    reply = azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert len(bullets(reply.choices[0].message.content)) == 3
    out = bedrock.converse(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": prompt}]}])
    assert len(bullets(out["output"]["message"]["content"][0]["text"])) == 3
