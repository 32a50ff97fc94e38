"""Azure OpenAI chat-completions wire format as pure functions: the deployment table,
request validation, and the JSON bodies of answers, stream chunks and errors.

Shapes follow docs/wire.md: the response ``model`` is the model version, not the deployment;
every answer carries ``content_filter_results`` and ``prompt_filter_results``; errors are
``{"error": {code, message, param, type}}``. Nothing here touches a socket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..tokens import Turn

# The priced deployments, each under its own name, reporting its dated version.
MODEL_VERSIONS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-11-20",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
}
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER_RESULTS = {k: dict(_SAFE) for k in ("hate", "self_harm", "sexual", "violence")}
PROMPT_FILTER_RESULTS = [
    {"prompt_index": 0, "content_filter_results": dict(CONTENT_FILTER_RESULTS, jailbreak={"filtered": False, "detected": False})}
]


@dataclass(frozen=True)
class ModelInfo:
    context_window: int
    max_output: int
    reasoning: bool


def model_info(version: str) -> ModelInfo:
    v = version.lower()
    if v.startswith(("o1", "o3", "o4")):
        return ModelInfo(200_000, 100_000, True)
    if v.startswith("gpt-4.1"):
        return ModelInfo(1_047_576, 32_768, False)
    if v.startswith("gpt-4o"):
        return ModelInfo(128_000, 16_384, False)
    return ModelInfo(128_000, 4_096, False)


def deployment_table(deployments) -> dict[str, str]:
    """deployment -> model version, from None (the priced set), a list of names or a mapping."""
    if deployments is None:
        return dict(MODEL_VERSIONS)
    if isinstance(deployments, Mapping):
        return {str(d): MODEL_VERSIONS.get(str(m), str(m)) for d, m in deployments.items()}
    return {str(d): MODEL_VERSIONS.get(str(d), str(d)) for d in deployments}


class Invalid(Exception):
    """A 400 ``invalid_request_error`` naming ``param``."""

    def __init__(self, param: str | None, message: str, code: str | None = None):
        super().__init__(message)
        self.param, self.message, self.code = param, message, code


def _text(content, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(parts)
    raise Invalid(where, f"Invalid type for '{where}': expected a string or an array of content parts.", "invalid_type")


def _range(body: dict, name: str, lo: float, hi: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(name, f"Invalid type for '{name}': expected a number.", "invalid_type")
    if not lo <= value <= hi:
        raise Invalid(name, f"Invalid '{name}': {value} is not within the allowed range [{lo:g}, {hi:g}].", "invalid_value")


def _cap(body: dict, name: str, info: ModelInfo) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(name, f"Invalid type for '{name}': expected an integer.", "invalid_type")
    if value < 1:
        raise Invalid(
            name,
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead.",
            "integer_below_min_value",
        )
    if value > info.max_output:
        raise Invalid(
            name,
            f"{name} is too large: {value}. This model supports at most {info.max_output} completion tokens, whereas you provided {value}.",
            "invalid_value",
        )
    return value


def parse_chat(body: object, version: str) -> tuple[list[Turn], int | None, list[str]]:
    """Validate a chat request; returns (turns, output cap, stop sequences) or raises Invalid."""
    if not isinstance(body, dict):
        raise Invalid(None, "The request body must be a JSON object.")
    messages = body.get("messages")
    if messages is None:
        raise Invalid("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
    if not isinstance(messages, list):
        raise Invalid("messages", "Invalid type for 'messages': expected an array.", "invalid_type")
    if not messages:
        raise Invalid(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "empty_array",
        )
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise Invalid(
                f"messages[{i}].role",
                f"Invalid value for 'messages[{i}].role': expected one of {', '.join(ROLES)}.",
                "invalid_value",
            )
        turns.append((m["role"], _text(m.get("content"), f"messages[{i}].content"), m.get("name")))
    info = model_info(version)
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    if info.reasoning and body.get("max_tokens") is not None:
        raise Invalid(
            "max_tokens",
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "unsupported_parameter",
        )
    if info.reasoning and body.get("temperature") not in (None, 1):
        raise Invalid(
            "temperature",
            "Unsupported value: 'temperature' does not support this value with this model. Only the default (1) value is supported.",
            "unsupported_value",
        )
    newer, legacy = _cap(body, "max_completion_tokens", info), _cap(body, "max_tokens", info)
    cap = newer if newer is not None else legacy
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str)]
    if len(stops) > 4:
        raise Invalid(
            "stop", "Invalid 'stop': array too long. Expected an array with maximum length 4.", "array_above_max_length"
        )
    return turns, cap, stops


def context_error(version: str, prompt_tokens: int, cap: int | None) -> Invalid | None:
    window = model_info(version).context_window
    wanted = prompt_tokens + (cap or 0)
    if wanted <= window:
        return None
    return Invalid(
        "messages",
        f"This model's maximum context length is {window} tokens. However, you requested {wanted} tokens ({prompt_tokens} in the messages, {cap or 0} in the completion). Please reduce the length of the messages or completion.",
        "context_length_exceeded",
    )


def usage(prompt: int, completion: int, reasoning: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_body(cid: str, created: int, version: str, text: str, finish: str, use: dict) -> dict:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": version,
        "system_fingerprint": fingerprint(version),
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {"role": "assistant", "content": text, "refusal": None, "tool_calls": None},
                "logprobs": None,
                "content_filter_results": CONTENT_FILTER_RESULTS,
            }
        ],
        "usage": use,
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
    }


def fingerprint(version: str) -> str:
    return "fp_" + format(sum(map(ord, version)) * 2654435761 % 16**10, "010x")


def prompt_filter_chunk() -> dict:
    # Azure's real first chunk: empty id/model, no choices - clients must not index choices[0].
    return {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": PROMPT_FILTER_RESULTS}


def chunk(base: dict, delta: dict, finish: str | None = None, filters: dict | None = None) -> dict:
    choice = {
        "index": 0,
        "delta": delta,
        "finish_reason": finish,
        "logprobs": None,
        "content_filter_results": filters if filters is not None else {},
    }
    return dict(base, choices=[choice])


def error(code: str, message: str, param: str | None = None, type_: str | None = None, **extra) -> dict:
    return {"error": dict({"code": code, "message": message, "param": param, "type": type_}, **extra)}


def fault_error(status: int, code: str | None, api_version: str, retry_after: int) -> dict:
    """The body Azure sends for an injected status (docs/wire.md)."""
    if code == "content_filter":
        flagged = dict(
            CONTENT_FILTER_RESULTS,
            violence={"filtered": True, "severity": "high"},
            jailbreak={"filtered": False, "detected": False},
        )
        return error(
            "content_filter",
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
            "prompt",
            None,
            status=400,
            innererror={"code": "ResponsibleAIPolicyViolation", "content_filter_result": flagged},
        )
    if code == "context_length_exceeded":
        return error(
            "context_length_exceeded",
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
            "messages",
            "invalid_request_error",
        )
    messages = {
        408: "The operation was timeout.",
        429: f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {api_version} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {retry_after} second{'s' if retry_after != 1 else ''}.",
        500: "The server had an error while processing your request. Sorry about that!",
        503: "The service is temporarily unable to process your request. Please try again later.",
    }
    return error(str(status), messages[status])


def stream_error(status: int | None) -> dict:
    """The ``data: {"error": …}`` event sent when a stream is cut in ``error_event`` mode."""
    if status in (429, 503):
        return error(str(status), "The service is temporarily overloaded; the stream was interrupted.", None, "server_error")
    return error("server_error", "The server had an error while processing your request. Sorry about that!", None, "server_error")


def retry_after_headers(retry_after_s: float | None) -> tuple[dict, int]:
    """``retry-after`` must be a positive integer for Azure, so a tiny delay goes in
    ``retry-after-ms``, which the SDK reads first."""
    seconds = retry_after_s if retry_after_s is not None else 0.01
    whole = max(1, math.ceil(seconds))
    return {"retry-after": str(whole), "retry-after-ms": str(max(1, round(seconds * 1000)))}, whole
