"""Task templates: how a request's task turns its prompt into chat messages and a token budget.

``TASKS`` is the one list of tasks: request validation, the CLI, the API schema and the
console all read their choices from it.

The instruction lives in the system turn and the user's text travels verbatim in the user
turn, so a model (or the emulator's extractive summary) sees exactly what was sent. Each
system prompt names its task ("Summarise", "Extract", "Classify", "Rewrite"); the emulators
recognise the task by that word, so keep it when editing the wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import ChatMessage, GenerateRequest


@dataclass(frozen=True)
class TaskSpec:
    """``template`` holds ``{prompt}``; ``expected_output_tokens`` seeds cost estimates before
    the task has history, and ``default_max_tokens`` applies when the request sets none."""

    name: str
    system: str
    template: str
    default_max_tokens: int
    expected_output_tokens: int

    def render(self, prompt: str) -> str:
        # replace, not str.format: prompts and custom templates may hold braces of their own.
        return self.template.replace("{prompt}", prompt)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "chat",
            "You are a helpful assistant. Answer clearly and concisely.",
            "{prompt}",
            default_max_tokens=512,
            expected_output_tokens=250,
        ),
        TaskSpec(
            "summarise",
            "Summarise the user's text in two or three sentences, keeping the key facts.",
            "{prompt}",
            default_max_tokens=256,
            expected_output_tokens=120,
        ),
        TaskSpec(
            "extract",
            "Extract the key facts from the user's text (names, dates, amounts, places) as a short list.",
            "{prompt}",
            default_max_tokens=384,
            expected_output_tokens=150,
        ),
        TaskSpec(
            "classify",
            "Classify the user's text with one short category label, then give a one-line reason.",
            "{prompt}",
            default_max_tokens=64,
            expected_output_tokens=20,
        ),
        TaskSpec(
            "rewrite",
            "Rewrite the user's text to be clearer and more concise, keeping its meaning and tone.",
            "{prompt}",
            default_max_tokens=512,
            expected_output_tokens=250,
        ),
    )
}


def build_messages(request: GenerateRequest) -> tuple[ChatMessage, ...]:
    """System turn plus templated user turn; a given ``messages`` chat is kept as sent, gaining
    the task's system turn only when it has none of its own."""
    spec = TASKS[request.task]
    system = ChatMessage("system", spec.system)
    if request.messages is not None:
        if any(m.role == "system" for m in request.messages):
            return tuple(request.messages)
        return (system, *request.messages)
    return (system, ChatMessage("user", spec.render(request.prompt)))


def max_tokens_for(request: GenerateRequest) -> int:
    return request.max_tokens if request.max_tokens is not None else TASKS[request.task].default_max_tokens
