"""Server-sent events over a blocking ``GatewayStream``, without blocking the event loop.

Each ``next()`` on the gateway's stream runs in the threadpool. The first chunk is
awaited *before* the response starts, so a request that fails before any text (every
provider down, content filtered) still gets a proper status code and JSON error body
instead of a 200 stream carrying an error. After that, an error can only be reported
in-band: ``/generate`` sends ``event: error`` with the error JSON; ``/v1`` sends a
``data: {"error": ...}`` frame, which the OpenAI SDKs raise as ``APIError``. If the
client goes away, the stream is closed, so the gateway logs the attempt as cancelled
and the provider connection is released.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from .bodies import ChatOptions
from .models import (
    chunk_json,
    completion_id,
    finish_reason,
    generate_json,
    openai_usage,
    tool_call_delta,
    x_gateway,
)

_END = object()
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def frame(payload, event: str | None = None) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode("utf-8", "backslashreplace")


class Pump:
    """Pulls a ``GatewayStream`` one chunk at a time on a worker thread."""

    def __init__(self, stream):
        self.stream = stream
        self._it = iter(stream)
        self.done = False

    async def next(self):
        item = await run_in_threadpool(next, self._it, _END)
        if item is _END:
            self.done = True
        return item

    def close(self) -> None:
        # Only reached between chunks (cancellation waits for the worker thread), so the
        # generator is not executing and closing it runs the executor's cancel path.
        if not self.done:
            self.done = True
            try:
                self._it.close()
            except Exception:  # noqa: BLE001 - closing is best effort; the client is gone
                pass


async def start(gateway, request, key=None, trace_headers=None) -> tuple[Pump, object]:
    """Open the stream (as ``key``'s principal) and wait for its first chunk; errors before
    any text, governance refusals included, raise here. ``trace_headers`` are the HTTP
    request's, for its telemetry span."""
    pump = Pump(gateway.stream(request, key=key, source="api", trace_headers=trace_headers))
    try:
        first = await pump.next()
    except BaseException:
        pump.close()  # a finished generator ignores this; a cancelled wait must not leak it
        raise
    return pump, first


def _response(events: AsyncIterator[bytes], stream) -> StreamingResponse:
    # The request was admitted before its first chunk: its limits news is known here.
    headers = {**SSE_HEADERS, **stream.headers, "x-request-id": stream.request_id}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def _generate_piece(item) -> dict:
    if isinstance(item, str):
        return {"delta": item}
    return {"tool_call": {"index": item.index, "id": item.id, "name": item.name, "arguments": item.arguments}}


def _chat_delta(item) -> dict:
    return {"content": item} if isinstance(item, str) else {"tool_calls": [tool_call_delta(item)]}


async def _generate_events(pump: Pump, first, on_error: Callable[[Exception], dict]):
    try:
        item = first
        while item is not _END:
            if item:
                yield frame(_generate_piece(item))
            item = await pump.next()
        yield frame(generate_json(pump.stream.result))
        yield DONE
    except Exception as exc:  # noqa: BLE001 - headers are sent; the error must travel in-band
        yield frame(on_error(exc), event="error")
    finally:
        pump.close()


async def _chat_events(pump: Pump, first, opts: ChatOptions, on_error: Callable[[Exception], dict]):
    cid = completion_id(pump.stream.request_id)
    try:
        # The provider is not known until the result, so early chunks name the model as asked.
        yield frame(chunk_json(cid, opts, opts.model, delta={"role": "assistant", "content": ""}))
        item = first
        while item is not _END:
            if item:
                yield frame(chunk_json(cid, opts, opts.model, delta=_chat_delta(item)))
            item = await pump.next()
        r = pump.stream.result
        facts = {"x_gateway": x_gateway(r)}
        yield frame(chunk_json(cid, opts, r.model, delta={}, finish=finish_reason(r), extra=facts))
        if opts.include_usage:
            yield frame(chunk_json(cid, opts, r.model, usage=openai_usage(r), extra=facts))
        yield DONE
    except Exception as exc:  # noqa: BLE001 - headers are sent; the error must travel in-band
        yield frame(on_error(exc))
    finally:
        pump.close()


def generate_response(pump: Pump, first, on_error) -> StreamingResponse:
    return _response(_generate_events(pump, first, on_error), pump.stream)


def chat_response(pump: Pump, first, opts: ChatOptions, on_error) -> StreamingResponse:
    return _response(_chat_events(pump, first, opts, on_error), pump.stream)
