"""The OpenAI Chat Completions wire format, shared by every adapter that speaks it.

Azure OpenAI is this wire format behind Azure's auth and deployment-in-path URL; an
OpenAI-compatible endpoint (OpenAI itself, vLLM, Ollama, LM Studio, Azure AI Foundry
serverless) is the same format behind a bearer key. So the converters, the stream
accumulator, the error mapping and the call loop live here once, and each adapter only
builds its client. ``to_wire``/``from_wire``/``ChunkAccumulator`` are pure and tested on
dicts. Stream quirks absorbed here: Azure's first chunk is a prompt-filter chunk with no
choices, usage arrives in a trailing choice-less chunk only when
``stream_options.include_usage`` is set, and ``model`` in answers is the model version
(``gpt-4o-mini-2024-07-18``), not the deployment. The ``openai`` package is imported when
a call is made or an error mapped, not when the registry is read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import BadRequest, ContentFiltered, ContextTooLong, ProviderError, ProviderTimeout, ProviderUnavailable
from ..tools import TOOL_CHOICE_MODES, ToolCall, ToolCallDelta
from ..types import Usage
from . import _errors
from .base import Completion, ProviderCall, StreamItem, host_and_port

# --- pure converters -------------------------------------------------------------------

JSON_OBJECT_HINT = "Respond with a JSON object."


def _message(m) -> dict:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["content"] = m.content or None  # the service wants null, not "", beside tool calls
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def _tool(t) -> dict:
    function: dict[str, Any] = {"name": t.name, "parameters": dict(t.parameters)}
    if t.description:
        function["description"] = t.description
    if t.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: str) -> Any:
    return choice if choice in TOOL_CHOICE_MODES else {"type": "function", "function": {"name": choice}}


def _response_format(fmt) -> dict:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec = {"name": fmt.name, "schema": dict(fmt.schema or {}), "strict": fmt.strict}
    return {"type": "json_schema", "json_schema": spec}


def to_wire(call: ProviderCall) -> dict:
    """Keyword arguments for ``chat.completions.create`` (the SDK moves ``model`` into the path).
    Every option maps natively: this wire format is the one the gateway's options are named after."""
    messages = [_message(m) for m in call.messages]
    fmt = call.response_format
    if fmt is not None and fmt.type == "json_object" and not any("json" in m.content.lower() for m in call.messages):
        # The service refuses json_object unless a message mentions JSON; the caller asked
        # for JSON, so saying so keeps the request's meaning.
        messages.insert(0, {"role": "system", "content": JSON_OBJECT_HINT})
    wire: dict[str, Any] = {"model": call.model, "messages": messages, "max_tokens": call.max_tokens}
    optional = {"temperature": call.temperature, "top_p": call.top_p, "parallel_tool_calls": call.parallel_tool_calls}
    wire.update({k: v for k, v in optional.items() if v is not None})
    if call.stop:
        wire["stop"] = list(call.stop)
    if call.tools:
        wire["tools"] = [_tool(t) for t in call.tools]
    if call.tool_choice is not None and call.tools:  # auto or none with no tools says nothing
        wire["tool_choice"] = _tool_choice(call.tool_choice)
    if call.response_format is not None:
        wire["response_format"] = _response_format(call.response_format)
    return wire


def _get(obj: Any, key: str) -> Any:
    # Chunks arrive as SDK objects on the hot path and as dicts in tests; reading both
    # avoids a model_dump() per chunk.
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def usage_from_wire(usage: Any) -> Usage | None:
    if usage is None:
        return None
    details = _get(usage, "prompt_tokens_details")
    return Usage(
        input_tokens=int(_get(usage, "prompt_tokens") or 0),
        output_tokens=int(_get(usage, "completion_tokens") or 0),
        source="provider",
        cached_input_tokens=int(_get(details, "cached_tokens") or 0),
    )


def tool_calls_from_wire(calls: Any) -> tuple[ToolCall, ...]:
    out = []
    for c in calls or ():
        function = _get(c, "function")
        out.append(ToolCall(_get(c, "id") or "", _get(function, "name") or "", _get(function, "arguments") or ""))
    return tuple(out)


def from_wire(payload: Any, *, deployment: str = "", request_id: str | None = None, provider: str = "") -> Completion:
    """A non-streaming answer (``response.model_dump()`` or a plain dict) as a ``Completion``."""
    choices = _get(payload, "choices") or []
    choice = choices[0] if choices else None
    message = _get(choice, "message")
    usage = usage_from_wire(_get(payload, "usage"))
    if usage is None:
        # Billing depends on it; an answer without usage is a broken answer.
        raise _errors.build(ProviderUnavailable, provider, "response carried no usage", code="no_usage")
    return Completion(
        text=_get(message, "content") or "",
        model=_get(payload, "model") or deployment,
        usage=usage,
        finish_reason=_get(choice, "finish_reason"),
        request_id=request_id or _get(payload, "id") or None,
        tool_calls=tool_calls_from_wire(_get(message, "tool_calls")),
    )


class ChunkAccumulator:
    """Folds a stream's chunks into text deltas and tool-call pieces and, at the end, one
    ``Completion``. A tool call arrives as a first piece with its ``index``, ``id`` and
    name, then pieces of its arguments with the same ``index``."""

    def __init__(self, deployment: str = "", request_id: str | None = None, provider: str = ""):
        self.deployment = deployment
        self.provider = provider
        self.request_id = request_id
        self.parts: list[str] = []
        self.model = ""
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.calls: dict[int, list] = {}  # index -> [id, name, argument pieces]

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _tool_pieces(self, deltas) -> list[ToolCallDelta]:
        out = []
        for d in deltas or ():
            index = int(_get(d, "index") or 0)
            function = _get(d, "function")
            piece = ToolCallDelta(index, _get(d, "id"), _get(function, "name"), _get(function, "arguments") or "")
            call = self.calls.setdefault(index, [None, None, []])
            call[0] = call[0] or piece.id
            call[1] = call[1] or piece.name
            call[2].append(piece.arguments)
            out.append(piece)
        return out

    def feed(self, chunk: Any) -> list:
        """Absorb one chunk; return what it carried for the caller: text and tool-call pieces."""
        model = _get(chunk, "model")
        if model:
            self.model = model
        usage = usage_from_wire(_get(chunk, "usage"))
        if usage is not None:
            self.usage = usage
        # Azure's first chunk (prompt filter results) and every usage chunk have no choices.
        choices = _get(chunk, "choices") or ()
        out: list = []
        for choice in choices:
            if (_get(choice, "index") or 0) != 0:
                continue
            reason = _get(choice, "finish_reason")
            if reason:
                self.finish_reason = reason
            delta = _get(choice, "delta")
            content = _get(delta, "content")
            if content:
                self.parts.append(content)
                out.append(content)
            out += self._tool_pieces(_get(delta, "tool_calls"))
        return out

    def finish(self) -> Completion:
        """The final answer; raises if the stream ended without its finish reason or usage."""
        if self.finish_reason is None or self.usage is None:
            missing = "finish_reason" if self.finish_reason is None else "usage chunk"
            raise _errors.build(ProviderUnavailable, self.provider, f"stream ended without {missing}", code="stream_cut")
        return Completion(
            text=self.text,
            model=self.model or self.deployment,
            usage=self.usage,
            finish_reason=self.finish_reason,
            request_id=self.request_id,
            tool_calls=tuple(ToolCall(c[0] or "", c[1] or "", "".join(c[2])) for _, c in sorted(self.calls.items())),
        )


# --- error mapping ---------------------------------------------------------------------


def _status_class(status: int, code: str, message: str) -> type[ProviderError]:
    if status in (400, 422):
        if code == "content_filter":
            return ContentFiltered
        if code == "context_length_exceeded":
            return ContextTooLong
        hinted = _errors.by_message(message)
        return hinted if hinted in (ContentFiltered, ContextTooLong) else BadRequest
    return _errors.by_status(status) or ProviderError


def map_error(exc: BaseException, provider: str, secrets: tuple[str, ...] = ()) -> ProviderError:
    """Turn any SDK or transport exception into the gateway's error tree (docs/wire.md)."""
    import openai

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, Mapping) else {}
        code = str(exc.code or body.get("code") or exc.status_code)
        message = body.get("message") or exc.message or ""
        cls = _status_class(exc.status_code, code, message)
        retry_after = _errors.parse_retry_after(exc.response.headers) if exc.response is not None else None
        return _errors.build(
            cls,
            provider,
            message,
            status=exc.status_code,
            code=code,
            retry_after=retry_after,
            request_id=exc.request_id,
            secrets=secrets,
        )
    if isinstance(exc, openai.APITimeoutError):
        return _errors.build(ProviderTimeout, provider, "request timed out", code="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return _errors.build(ProviderUnavailable, provider, "connection failed", code="connection_error")
    if isinstance(exc, openai.APIError):
        # An error event inside a 200 stream: no status, never retried by the SDK. Azure may
        # put an HTTP-like code in it ("429", "500"); otherwise the service broke mid-answer.
        body = exc.body if isinstance(exc.body, Mapping) else {}
        code = str(body.get("code") or "stream_error")
        status = int(code) if code.isdigit() else None
        cls = (
            _status_class(status, code, exc.message)
            if status
            else (ContentFiltered if code == "content_filter" else ProviderUnavailable)
        )
        return _errors.build(cls, provider, exc.message, code=code, secrets=secrets)
    mod = type(exc).__module__ or ""
    if mod.startswith("httpx"):
        # openai 1.x lets raw httpx errors escape a stream that breaks mid-way.
        cls = ProviderTimeout if "Timeout" in type(exc).__name__ else ProviderUnavailable
        return _errors.build(cls, provider, type(exc).__name__, code="transport_error")
    return _errors.build(ProviderError, provider, type(exc).__name__, code="sdk_error")


@functools.cache
def catchable() -> tuple[type[BaseException], ...]:
    """What an OpenAI-wire call can raise: the SDK's errors and, from a cut stream, httpx's."""
    import openai

    kinds: list[type[BaseException]] = [openai.OpenAIError]
    for name in ("httpx", "httpx2"):
        try:
            kinds.append(__import__(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(kinds)


# --- the shared adapter ----------------------------------------------------------------


class OpenAIWireProvider:
    """``complete`` and ``stream`` over an injected OpenAI-wire client (``openai.OpenAI`` or
    ``openai.AzureOpenAI``). Subclasses set the provider facts and build the client."""

    name = ""
    supports_streaming = True
    calibrate_input_tokens = False  # the service tokenises with tiktoken's encodings

    def __init__(self, client, *, model_map: Mapping[str, str] | None = None):
        self.client = client
        self.model_map = dict(model_map or {})
        key = getattr(client, "api_key", None)
        self._secrets = (key,) if key else ()
        self.server_address, self.server_port = host_and_port(getattr(client, "base_url", ""))
        # Resolved now, not at the first failed call: that would import httpx while other
        # threads' SDK calls look it up in ``sys.modules`` and find it half-initialised.
        catchable()

    def _fallback_model(self, model: str) -> str:
        # What to report when the service names no model: what the configured id serves.
        return self.model_map.get(model, model)

    def complete(self, call: ProviderCall) -> Completion:
        try:
            raw = self.client.chat.completions.with_raw_response.create(**to_wire(call), extra_headers=call.headers)
            response = raw.parse()
            request_id = raw.headers.get("x-request-id")
            return from_wire(response, deployment=self._fallback_model(call.model), request_id=request_id, provider=self.name)
        except catchable() as exc:
            raise map_error(exc, self.name, self._secrets) from None

    def stream(self, call: ProviderCall) -> Iterator[StreamItem]:
        acc = ChunkAccumulator(self._fallback_model(call.model), provider=self.name)
        stream = None
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                **to_wire(call), stream=True, stream_options={"include_usage": True}, extra_headers=call.headers
            )
            acc.request_id = raw.headers.get("x-request-id")
            stream = raw.parse()
            for chunk in stream:
                yield from acc.feed(chunk)
            completion = acc.finish()
        except (*catchable(), ProviderError) as exc:
            err = map_error(exc, self.name, self._secrets)
            if acc.parts or acc.calls:
                raise _errors.interrupted(err, acc.text) from None
            raise err from None
        finally:
            if stream is not None:
                stream.close()
        yield completion

    def close(self) -> None:
        self.client.close()
