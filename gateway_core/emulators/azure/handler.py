"""The Azure OpenAI emulator's request handler: routing, auth, answers and SSE streams.

Routes (docs/wire.md): ``POST /openai/deployments/{dep}/chat/completions?api-version=…`` (the
deployment comes from the path; no api-version is a 404) and ``POST /openai/v1/chat/completions``
(the deployment is the body's ``model``). Either ``api-key`` or ``Authorization: Bearer`` is
accepted. A stream is: the empty prompt-filter chunk, the role chunk, content chunks, the
finish chunk, a usage chunk only when ``stream_options.include_usage`` is set, then
``data: [DONE]``. A cut in ``drop`` mode (the default) closes the socket mid-body - openai
3.x raises ``APIConnectionError`` while iterating (1.x lets ``httpx.RemoteProtocolError``
through); ``error_event`` mode sends ``data: {"error": …}``, which raises ``openai.APIError``.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from .. import text, tokens, tooluse
from ..faults import Fault
from ..server import EmulatorHandler
from . import tools, wire

_RESOURCE_NOT_FOUND = wire.error("404", "Resource not found")
_DEPLOYMENT_NOT_FOUND = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
_ACCESS_DENIED = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."


class Quota:
    """Per-minute request and token counters behind the ``x-ratelimit-*`` headers.
    Informational only: the emulator never throttles by itself (use a fault for that)."""

    LIMIT_REQUESTS, LIMIT_TOKENS = 900, 150_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._used: dict[str, list[int]] = {}

    def consume(self, deployment: str, tokens_: int) -> dict:
        with self._lock:
            minute = int(time.time() // 60)
            if minute != self._window:
                self._window, self._used = minute, {}
            used = self._used.setdefault(deployment, [0, 0])
            used[0] += 1
            used[1] += tokens_
            return {
                "x-ratelimit-limit-requests": str(self.LIMIT_REQUESTS),
                "x-ratelimit-limit-tokens": str(self.LIMIT_TOKENS),
                "x-ratelimit-remaining-requests": str(max(0, self.LIMIT_REQUESTS - used[0])),
                "x-ratelimit-remaining-tokens": str(max(0, self.LIMIT_TOKENS - used[1])),
            }


@dataclass
class Answer:
    text: str
    finish: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    tool_calls: list = field(default_factory=list)  # (call id, tooluse.PlannedCall)


def _tool_calls(version: str, spec: tools.ToolSpec, conv, prompt: int) -> Answer | None:
    planned = tooluse.plan_calls(
        spec.tools,
        spec.choice,
        conv,
        after_results=spec.after_results,
        called=spec.called,
        parallel=spec.parallel,
    )
    if not planned:
        return None
    calls = [(tools.call_id(), c) for c in planned]
    out = sum(3 + tokens.azure_text_tokens(version, c.name + c.json()) for _, c in calls)
    return Answer("", "tool_calls", prompt, out, 0, calls)


def build_answer(version: str, turns: list, cap: int | None, stops: list[str], spec: tools.ToolSpec | None = None) -> Answer:
    """The deterministic answer and its usage, after the stop sequences and the output cap."""
    spec = spec or tools.ToolSpec()
    system = "\n".join(t for role, t, _ in turns if role in ("system", "developer"))
    conv = [(role, t) for role, t, _ in turns if role not in ("system", "developer")]
    prompt = tokens.azure_prompt_tokens(version, turns)
    if spec.tools:
        prompt += tokens.azure_text_tokens(version, tooluse.definitions_text(spec.tools))
    called = _tool_calls(version, spec, conv, prompt)
    if called is not None:
        return called
    full = text.generate("azure", version, system, conv)
    json_wanted = spec.format != "text"
    full = tooluse.shaped_text(full, results=spec.results, json_wanted=json_wanted, schema=spec.schema, turns=conv)
    answer, _ = text.apply_stop(full, stops)
    reasoning = 0
    if wire.model_info(version).reasoning:
        reasoning = 64 * (1 + len(full) % 3)
        reasoning = min(reasoning, cap // 2) if cap else reasoning
    visible = tokens.azure_text_tokens(version, answer)
    if cap is not None and visible + reasoning > cap:
        answer = tokens.azure_truncate(version, answer, cap - reasoning)
        return Answer(answer, "length", prompt, cap, reasoning)
    return Answer(answer, "stop", prompt, visible + reasoning, reasoning)


class AzureHandler(EmulatorHandler):
    def handle_model(self, method: str) -> None:
        self.request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        parts = path.split("/")
        if (
            method == "POST"
            and len(parts) == 6
            and parts[1:3] == ["openai", "deployments"]
            and parts[4:] == ["chat", "completions"]
        ):
            if not query.get("api-version"):
                return self.send_json(404, _RESOURCE_NOT_FOUND, self._ids())
            route, deployment = "deployments.chat.completions", unquote(parts[3])
        elif method == "POST" and path.rstrip("/") == "/openai/v1/chat/completions":
            route, deployment = "v1.chat.completions", None
        else:
            return self.send_json(404, _RESOURCE_NOT_FOUND, self._ids())
        self.count_call(route)
        self.api_version = (query.get("api-version") or ["v1"])[0]
        if not self._authorised():
            return self.send_json(401, wire.error("401", _ACCESS_DENIED), self._ids())
        try:
            body = json.loads(self.body or b"null")
        except ValueError:
            return self._invalid(wire.Invalid(None, "We could not parse the JSON body of your request."))
        if deployment is None:
            deployment = body.get("model") if isinstance(body, dict) else None
            if not isinstance(deployment, str) or not deployment:
                return self._invalid(wire.Invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter"))
        version = self.emulator.config["deployments"].get(deployment)
        if version is None:
            return self.send_json(404, wire.error("DeploymentNotFound", _DEPLOYMENT_NOT_FOUND), self._ids())
        self._complete(body, deployment, version)

    def _complete(self, body: dict, deployment: str, version: str) -> None:
        try:
            turns, cap, stops = wire.parse_chat(body, version)
            answer = build_answer(version, turns, cap, stops, tools.parse(body))
            too_long = wire.context_error(version, answer.prompt_tokens, cap)
            if too_long:
                raise too_long
        except wire.Invalid as exc:
            return self._invalid(exc)
        stream = bool(body.get("stream"))
        cut = self.apply_faults(stream)
        if self.finished:
            return
        headers = dict(self._ids(), **self.emulator.config["quota"].consume(deployment, answer.prompt_tokens + (cap or 0)))
        headers["x-ms-deployment-name"] = deployment
        pace = self.emulator.plan(version, answer.completion_tokens)
        ttft, gen, gen_id = pace
        created = int(time.time())
        cid = "chatcmpl-" + uuid.uuid4().hex[:29]
        if stream:
            options = body.get("stream_options")
            include = isinstance(options, dict) and bool(options.get("include_usage"))
            return self._stream(cid, created, version, answer, include, headers, pace, cut)
        if not self.pause(ttft + gen, gen_id):
            return self.drop()
        use = wire.usage(answer.prompt_tokens, answer.completion_tokens, answer.reasoning_tokens)
        body = wire.completion_body(cid, created, version, answer.text, answer.finish, use)
        if answer.tool_calls:
            message = body["choices"][0]["message"]
            message.update(content=None, tool_calls=tools.message_calls(answer.tool_calls))
        self.send_json(200, body, headers)

    def _stream(self, cid, created, version, answer: Answer, include_usage, headers, pace, cut: Fault | None) -> None:
        base = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": version,
            "system_fingerprint": wire.fingerprint(version),
        }
        if include_usage:
            base["usage"] = None
        pieces = text.chunks(answer.text, version)
        ttft, gen, gen_id = pace
        with self.emulator.counters.stream():
            self.begin_stream("text/event-stream; charset=utf-8", headers)
            self._event(wire.prompt_filter_chunk())
            if not self.pause(ttft, gen_id):
                return self.drop()
            self._event(wire.chunk(base, {"role": "assistant", "content": None if answer.tool_calls else ""}))
            deltas = [{"content": p} for p in pieces] + tools.stream_deltas(answer.tool_calls, lambda s: text.chunks(s, version))
            for i, delta in enumerate(deltas):
                if cut is not None and i == cut.cut_stream_after:
                    return self._cut(cut)
                if not self.pause(gen / max(1, len(deltas)), gen_id):
                    return self.drop()
                self._event(wire.chunk(base, delta, filters=wire.CONTENT_FILTER_RESULTS))
            if cut is not None:
                return self._cut(cut)
            self._event(wire.chunk(base, {}, finish=answer.finish))
            if include_usage:
                use = wire.usage(answer.prompt_tokens, answer.completion_tokens, answer.reasoning_tokens)
                self._event(dict(base, choices=[], usage=use))
            self.write_chunk(b"data: [DONE]\n\n")
            self.end_stream()

    def _event(self, obj: dict) -> None:
        self.write_chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")

    def _cut(self, fault: Fault) -> None:
        if fault.cut_mode == "error_event":
            self._event(wire.stream_error(fault.status))
            self.end_stream()
        else:
            self.drop()

    def send_fault_error(self, fault: Fault) -> None:
        headers = self._ids()
        retry_headers, seconds = wire.retry_after_headers(fault.retry_after_s)
        if fault.status in (408, 429, 500, 503):
            headers.update(retry_headers)
        if fault.status == 429:
            headers.update({"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"})
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        self.send_json(fault.status, wire.fault_error(fault.status, fault.code, self.api_version, seconds), headers)

    def _invalid(self, exc: wire.Invalid) -> None:
        self.send_json(400, wire.error(exc.code, exc.message, exc.param, "invalid_request_error"), self._ids())

    def _authorised(self) -> bool:
        supplied = self.headers.get("api-key") or ""
        auth = self.headers.get("Authorization") or ""
        if not supplied and auth[:7].lower() == "bearer ":
            supplied = auth[7:].strip()
        if not supplied:
            return False
        expected = self.emulator.config.get("api_key")
        return expected is None or hmac.compare_digest(supplied.encode(), expected.encode())

    def _ids(self) -> dict:
        rid = getattr(self, "request_id", None) or str(uuid.uuid4())
        return {"x-request-id": rid, "apim-request-id": rid, "x-ms-region": "Local Emulator"}
