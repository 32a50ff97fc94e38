"""Task templates: system turns the emulators recognise, token budgets, and chat passthrough."""

from __future__ import annotations

import pytest

from gateway_core.errors import ValidationError
from gateway_core.tasks import TASKS, build_messages, max_tokens_for
from gateway_core.types import ChatMessage, GenerateRequest

TEXT = "The board met on 3 March in Leeds and approved a £2m budget for {next year}."


def test_requests_accept_exactly_the_tasks_that_have_a_template():
    for task in TASKS:
        assert GenerateRequest(prompt="x", task=task).task == task
    with pytest.raises(ValidationError) as info:
        GenerateRequest(prompt="x", task="translate")
    assert info.value.field == "task" and all(t in info.value.reason for t in TASKS)


@pytest.mark.parametrize(
    "task, keyword",
    [("summarise", "Summarise"), ("extract", "Extract"), ("classify", "Classify"), ("rewrite", "Rewrite")],
)
def test_task_system_turn_names_the_task(task, keyword):
    messages = build_messages(GenerateRequest(prompt=TEXT, task=task))
    assert [m.role for m in messages] == ["system", "user"]
    assert keyword in messages[0].content
    assert messages[1].content == TEXT  # the text travels verbatim, braces included


def test_chat_is_a_plain_assistant_turn():
    system, user = build_messages(GenerateRequest(prompt="Hello"))
    assert "helpful assistant" in system.content
    assert not any(k in system.content for k in ("Summarise", "Extract", "Classify", "Rewrite"))
    assert user == ChatMessage("user", "Hello")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_default_max_tokens_applies_when_request_sets_none(task):
    assert max_tokens_for(GenerateRequest(prompt="x", task=task)) == TASKS[task].default_max_tokens
    assert max_tokens_for(GenerateRequest(prompt="x", task=task, max_tokens=33)) == 33


def test_classify_budget_is_short_and_summaries_shorter_than_chat():
    assert TASKS["classify"].default_max_tokens < TASKS["summarise"].default_max_tokens < TASKS["chat"].default_max_tokens


def test_messages_without_system_turn_gain_the_task_system_turn():
    chat = (
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello! How can I help?"),
        ChatMessage("user", "Summarise our chat"),
    )
    out = build_messages(GenerateRequest(prompt="Summarise our chat", task="summarise", messages=chat))
    assert out[0].role == "system" and "Summarise" in out[0].content
    assert out[1:] == chat


def test_messages_with_own_system_turn_pass_through_unchanged():
    chat = (ChatMessage("system", "You are a pirate."), ChatMessage("user", "Ahoy"))
    out = build_messages(GenerateRequest(prompt="Ahoy", task="rewrite", messages=chat))
    assert out == chat


STEMS = {"summarise": "summar", "extract": "extract", "classify": "classif", "rewrite": "rewrite"}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_system_turn_carries_no_other_task_keyword(task):
    # Task detection scans for these stems in order, so a stray one would pick the wrong task.
    system = TASKS[task].system.lower()
    assert [stem for name, stem in STEMS.items() if stem in system] == ([STEMS[task]] if task in STEMS else [])
