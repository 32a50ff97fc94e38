"""The request path's side of telemetry that is on: plain records of what happened, handed off whole.

Building OpenTelemetry spans and metric points costs a few hundred microseconds of Python
per request (every attribute is validated and every metric point's attributes hashed), so
none of it happens while a request is served. A request only notes clock readings, ids and
references to values it already holds; ``RequestRecord.end`` hands the finished record to
``submit`` (the exporter worker's queue), and the worker builds the spans with these exact
timestamps and ids. The ids are drawn, and the head-sampling decision made, here because
the provider call needs its ``traceparent`` while the request is still running.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from . import AttemptTrace, RequestTrace
from .conventions import check_gateway_names
from .wire import Parent, traceparent

_clock_ns = time.time_ns


def _new_id(bits: int) -> int:
    # random reseeds itself in a forked worker, so ids stay unique across processes.
    return random.getrandbits(bits) or 1


class AttemptRecord(AttemptTrace):
    """One provider call: when it ran, what it returned, and the span id it was announced under."""

    __slots__ = (
        "request",
        "provider_name",
        "model",
        "address",
        "port",
        "span_id",
        "start_ns",
        "end_ns",
        "attempt",
        "response_model",
        "response_id",
        "finish_reason",
        "output_text",
    )

    def __init__(self, request: RequestRecord, provider_name: str, model: str, address, port):
        self.request, self.provider_name, self.model = request, provider_name, model
        self.address, self.port = address, port
        self.span_id = _new_id(64)
        self.end_ns = self.attempt = self.response_model = self.response_id = None
        self.finish_reason = self.output_text = None
        self.start_ns = _clock_ns()

    def inject_headers(self) -> dict[str, str]:
        request = self.request
        headers = {"traceparent": traceparent(request.trace_id_int, self.span_id, request.sampled)}
        if request.tracestate:
            headers["tracestate"] = request.tracestate
        return headers

    def end(self, attempt, *, response_model=None, response_id=None, finish_reason=None, output_text=None) -> None:
        if self.end_ns is not None:
            return
        self.end_ns = _clock_ns()
        self.attempt, self.response_model, self.response_id = attempt, response_model, response_id
        self.finish_reason, self.output_text = finish_reason, output_text


class RequestRecord(RequestTrace):
    """One gateway request, from ``start_request`` to ``end``; submitted whole when it ends."""

    __slots__ = (
        "_submit",
        "operation",
        "model",
        "max_tokens",
        "temperature",
        "messages",
        "gateway",
        "server",
        "parent",
        "trace_id_int",
        "span_id",
        "sampled",
        "tracestate",
        "start_ns",
        "end_ns",
        "attempts",
        "outcome",
        "end_gateway",
    )

    def __init__(
        self,
        submit: Callable[[RequestRecord], None],
        operation: str,
        model: str | None,
        max_tokens,
        temperature,
        messages,
        gateway: Mapping | None,
        server: bool,
        parent: Parent | None,
        sample: Callable[[int, Parent | None], bool],
    ):
        check_gateway_names(gateway)
        self._submit, self.operation, self.model = submit, operation, model
        self.max_tokens, self.temperature, self.messages, self.gateway = max_tokens, temperature, messages, gateway
        self.server, self.parent = server, parent
        if parent is None:
            self.trace_id_int, self.tracestate = _new_id(128), None
        else:
            self.trace_id_int, self.tracestate = parent.trace_id, parent.tracestate
        self.sampled = sample(self.trace_id_int, parent)
        self.span_id = _new_id(64)
        self.attempts: list[AttemptRecord] = []
        self.end_ns = self.outcome = self.end_gateway = None
        self.start_ns = _clock_ns()

    @property
    def trace_id(self) -> str:
        return f"{self.trace_id_int:032x}"

    def attempt(
        self, provider_name: str, model: str, server_address: str | None = None, server_port: int | None = None
    ) -> AttemptTrace:
        record = AttemptRecord(self, provider_name, model, server_address, server_port)
        self.attempts.append(record)
        return record

    def end(self, outcome, gateway_attrs: Mapping[str, object] | None = None) -> None:
        if self.end_ns is not None:
            return
        check_gateway_names(gateway_attrs)
        self.end_ns = _clock_ns()
        self.outcome, self.end_gateway = outcome, gateway_attrs
        self._submit(self)
