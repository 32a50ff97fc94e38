"""The Bedrock runtime emulator's request handler: Converse, ConverseStream, InvokeModel,
InvokeModelWithResponseStream and CountTokens on ``/model/{modelId}/…``.

The raw path is split on ``/`` before the model id is percent-decoded, because botocore
encodes the ``:`` and ``/`` inside ids and ARNs. The SigV4 signature is not checked, but a
request without an ``AWS4-HMAC-SHA256`` or ``Bearer`` Authorization header gets 403. Errors
carry ``X-Amzn-ErrorType`` so botocore raises the modelled exception class. Streams are
binary event-stream frames; a cut sends an exception frame (botocore raises
``EventStreamError``, never retried) or, in ``drop`` mode, closes the socket.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import unquote

from .. import text
from ..faults import Fault
from ..server import EmulatorHandler
from . import eventstream, tools, wire
from .models import ModelRejected, resolve

OPERATIONS = ("converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens")
_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _pad(n: int) -> str:
    # The real service pads event payloads with a random "p" field; clients must ignore it.
    return _PAD[: 8 + n % 40]


class BedrockHandler(EmulatorHandler):
    def handle_model(self, method: str) -> None:
        self.started = time.monotonic()
        self.request_id = str(uuid.uuid4())
        parts = self.path.split("?", 1)[0].split("/")
        if method != "POST" or len(parts) != 4 or parts[1] != "model" or parts[3] not in OPERATIONS:
            return self._error(404, "UnknownOperationException", "Unknown operation")
        op = parts[3]
        self.count_call(op)
        auth = self.headers.get("Authorization") or ""
        if not auth:
            return self._error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if not (auth.startswith("AWS4-HMAC-SHA256 ") or auth.startswith("Bearer ")):
            return self._error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        try:
            row, prefix = resolve(unquote(parts[2]), self.emulator.config["models"])
        except ModelRejected as exc:
            return self._error(exc.status, exc.code, exc.message)
        try:
            body = json.loads(self.body or b"null")
        except ValueError:
            return self._error(
                400,
                "ValidationException",
                "Malformed input request: the body is not valid JSON, please reformat your input and try again.",
            )
        try:
            if op == "count-tokens":
                if prefix is not None:
                    raise wire.Invalid("The provided model doesn't support counting tokens. Use a foundation model id.")
                count = wire.count_input(body, row)
            else:
                converse = op.startswith("converse")
                req = (wire.parse_converse if converse else wire.parse_invoke)(body, row)
                answer = wire.answer(row, req, tools.parse(body) if converse else None)
        except wire.Invalid as exc:
            return self._error(400, "ValidationException", exc.message)
        cut = self.apply_faults(op.endswith("stream"))
        if self.finished:
            return
        if op == "count-tokens":
            return self.send_json(200, {"inputTokens": count}, self._ids())
        pace = self.emulator.plan(row.model_id, answer.output_tokens)
        ttft, gen, gen_id = pace
        if op.endswith("stream"):
            return self._stream(op, row, answer, pace, cut)
        if not self.pause(ttft + gen, gen_id):
            return self.drop()
        if op == "converse":
            return self.send_json(200, wire.converse_body(answer, self._elapsed_ms()), self._ids())
        headers = dict(
            self._ids(),
            **{
                "X-Amzn-Bedrock-Input-Token-Count": str(answer.input_tokens),
                "X-Amzn-Bedrock-Output-Token-Count": str(answer.output_tokens),
                "X-Amzn-Bedrock-Invocation-Latency": str(self._elapsed_ms()),
            },
        )
        self.send_json(200, wire.invoke_body(row, answer, self._message_id()), headers)

    # --- streams --------------------------------------------------------------------------

    def _stream(self, op: str, row, answer: wire.Answer, pace, cut: Fault | None) -> None:
        ttft, gen, gen_id = pace
        pieces = wire.stream_pieces(answer)
        invoke = op == "invoke-with-response-stream"
        headers = dict(self._ids(), **({"X-Amzn-Bedrock-Content-Type": "application/json"} if invoke else {}))
        frames = _InvokeFrames(row, answer, self._message_id()) if invoke else _ConverseFrames(answer)
        with self.emulator.counters.stream():
            self.begin_stream("application/vnd.amazon.eventstream", headers)
            self.write_chunk(frames.start())
            if not self.pause(ttft, gen_id):
                return self.drop()
            first_byte_ms = self._elapsed_ms()
            steps = [frames.delta(i, piece) for i, piece in enumerate(pieces)] + frames.tool_steps()
            for i, step in enumerate(steps):
                if cut is not None and i == cut.cut_stream_after:
                    return self._cut(cut, invoke)
                if not self.pause(gen / max(1, len(steps)), gen_id):
                    return self.drop()
                self.write_chunk(step)
            if cut is not None:
                return self._cut(cut, invoke)
            self.write_chunk(frames.end(self._elapsed_ms(), first_byte_ms))
            self.end_stream()

    def _cut(self, fault: Fault, invoke: bool) -> None:
        if fault.cut_mode == "drop":
            return self.drop()
        kind = wire.STREAM_EXCEPTIONS.get(fault.status or 0, "modelStreamErrorException")
        if invoke and fault.status == 408:
            kind = "modelTimeoutException"
        _, message = wire.FAULT_ERRORS.get(fault.status or 0, ("", "The model stream was interrupted. Retry your request."))
        payload: dict = {"message": message}
        if kind == "modelStreamErrorException":
            payload.update(originalStatusCode=500, originalMessage="The model returned an error while streaming.")
        self.write_chunk(eventstream.exception(kind, payload))
        self.end_stream()

    # --- errors ---------------------------------------------------------------------------

    def send_fault_error(self, fault: Fault) -> None:
        if fault.status == 400:
            return self._error(400, "ValidationException", wire.FAULT_400[fault.code or "content_filter"])
        code, message = wire.FAULT_ERRORS[fault.status]
        extra = {}
        if fault.status in (429, 500, 503):
            ms = round(fault.retry_after_s * 1000) if fault.retry_after_s is not None else 10
            extra["x-amz-retry-after"] = str(max(1, ms))
        self._error(fault.status, code, message, extra)

    def _error(self, status: int, code: str, message: str, extra: dict | None = None) -> None:
        headers = dict(self._ids(), **{"X-Amzn-ErrorType": code + wire.ERROR_TYPE_SUFFIX}, **(extra or {}))
        self.send_json(status, {"message": message}, headers)

    def _ids(self) -> dict:
        return {"x-amzn-RequestId": getattr(self, "request_id", None) or str(uuid.uuid4())}

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    @staticmethod
    def _message_id() -> str:
        return "msg_bdrk_" + uuid.uuid4().hex[:24]


class _ConverseFrames:
    """ConverseStream events: messageStart, contentBlockDelta…, contentBlockStop, messageStop, metadata."""

    def __init__(self, answer: wire.Answer) -> None:
        self.answer = answer

    def start(self) -> bytes:
        return eventstream.event("messageStart", {"role": "assistant", "p": _pad(0)})

    def delta(self, i: int, piece: str) -> bytes:
        return eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}, "p": _pad(i)})

    def tool_steps(self) -> list[bytes]:
        """The tool-use blocks, after the text block (closed first when there was text)."""
        if not self.answer.tool_calls:
            return []
        close = [eventstream.event("contentBlockStop", {"contentBlockIndex": 0, "p": _pad(1)})] if self.answer.text else []
        first = 1 if self.answer.text else 0
        return close + tools.stream_steps(self.answer.tool_calls, first, lambda s: text.chunks(s, "bedrock"), _pad)

    def end(self, latency_ms: int, first_byte_ms: int) -> bytes:
        text_stop = (
            [] if self.answer.tool_calls else [eventstream.event("contentBlockStop", {"contentBlockIndex": 0, "p": _pad(1)})]
        )
        return b"".join(
            (
                *text_stop,
                eventstream.event("messageStop", {"stopReason": self.answer.stop_reason, "p": _pad(2)}),
                eventstream.event(
                    "metadata", {"usage": wire.converse_usage(self.answer), "metrics": {"latencyMs": latency_ms}, "p": _pad(3)}
                ),
            )
        )


class _InvokeFrames:
    """InvokeModelWithResponseStream: ``chunk`` events wrapping base64 Anthropic stream events."""

    def __init__(self, row, answer: wire.Answer, msg_id: str) -> None:
        self.row, self.answer, self.msg_id = row, answer, msg_id

    @staticmethod
    def _chunk(obj: dict) -> bytes:
        data = base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()
        return eventstream.event("chunk", {"bytes": data, "p": _pad(len(data))})

    def start(self) -> bytes:
        message = {
            "id": self.msg_id,
            "type": "message",
            "role": "assistant",
            "model": self.row.short_name,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.answer.input_tokens, "output_tokens": 1},
        }
        return self._chunk({"type": "message_start", "message": message}) + self._chunk(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        )

    def delta(self, i: int, piece: str) -> bytes:
        return self._chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})

    def tool_steps(self) -> list[bytes]:
        return []  # InvokeModel is served as text only

    def end(self, latency_ms: int, first_byte_ms: int) -> bytes:
        a = self.answer
        metrics = {
            "inputTokenCount": a.input_tokens,
            "outputTokenCount": a.output_tokens,
            "invocationLatency": latency_ms,
            "firstByteLatency": first_byte_ms,
        }
        return b"".join(
            (
                self._chunk({"type": "content_block_stop", "index": 0}),
                self._chunk(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": a.stop_reason, "stop_sequence": None},
                        "usage": {"output_tokens": a.output_tokens},
                    }
                ),
                self._chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}),
            )
        )
