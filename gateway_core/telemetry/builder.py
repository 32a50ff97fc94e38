"""Turns a finished ``RequestRecord`` into OpenTelemetry spans and metric points, off the request path.

Runs on the telemetry worker thread only. Spans are created after the fact with the
record's own timestamps, and with the ids the request already announced (the request's
``traceparent`` went out to the provider while it ran): ``PresetIds`` hands the SDK the id
for the span about to be started, which is safe because this worker is the only thread
that starts spans on its private tracer. Unsampled requests (the caller said so in its
``traceparent``, or the head sampler did) still count in the metrics; they leave no spans.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from . import conventions as c
from .recording import AttemptRecord, RequestRecord

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


class PresetIds(IdGenerator):
    """Gives the SDK the ids the request path drew, one span at a time."""

    def __init__(self):
        self.trace_id = 0
        self.span_id = 0

    def generate_span_id(self) -> int:
        return self.span_id

    def generate_trace_id(self) -> int:
        return self.trace_id

    def is_trace_id_random(self) -> bool:
        return True


def bucket_views() -> list[View]:
    # Views rather than the histogram advisory parameter: some SDK releases let the OTLP
    # exporter's preferred aggregation override the advisory buckets.
    buckets = {
        c.TOKEN_USAGE: c.TOKEN_BUCKETS,
        c.OPERATION_DURATION: c.DURATION_BUCKETS,
        c.TIME_TO_FIRST_CHUNK: c.DURATION_BUCKETS,
    }
    return [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(bounds)) for name, bounds in buckets.items()
    ]


class Instruments:
    """The gateway's metric instruments on one meter (a no-op meter when metrics are off)."""

    def __init__(self, meter):
        self.meter = meter
        self.tokens = meter.create_histogram(c.TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used.")
        self.duration = meter.create_histogram(
            c.OPERATION_DURATION, unit="s", description="GenAI operation duration (one provider call)."
        )
        self.first_chunk = meter.create_histogram(
            c.TIME_TO_FIRST_CHUNK, unit="s", description="Time to the first streamed chunk of a provider call."
        )
        self.cost = meter.create_counter(c.COST, unit="USD", description="Provider spend in US dollars.")
        self.fallbacks = meter.create_counter(
            c.FALLBACKS, unit="{fallback}", description="Moves to the next candidate after a failed provider call."
        )


def attempt_error(record: AttemptRecord) -> str | None:
    """The attempt's error.type, or None if it answered; an attempt never ended is ``_OTHER``."""
    attempt = record.attempt
    if attempt is None:
        return "_OTHER"
    return None if attempt.status == "ok" else (attempt.error_type or "_OTHER")


class RecordBuilder:
    def __init__(self, tracer, ids: PresetIds | None, instruments: Instruments, mask=None):
        self.tracer, self.ids, self.instruments, self.mask = tracer, ids, instruments, mask

    def build(self, record: RequestRecord) -> None:
        for attempt in record.attempts:
            if attempt.end_ns is None:  # the request moved on without ending it: close it where it ended
                attempt.end_ns = record.end_ns
        if record.sampled and self.tracer is not None:
            self._request_span(record)
            parent = set_span_in_context(
                NonRecordingSpan(SpanContext(record.trace_id_int, record.span_id, is_remote=False, trace_flags=_SAMPLED))
            )
            for attempt in record.attempts:
                self._attempt_span(record, attempt, parent)
        self._metrics(record)

    def _start(self, name: str, parent, kind: SpanKind, attrs: dict, start_ns: int, span_id: int, trace_id: int = 0):
        self.ids.span_id, self.ids.trace_id = span_id, trace_id
        return self.tracer.start_span(name, context=parent, kind=kind, attributes=attrs, start_time=start_ns)

    def _request_span(self, record: RequestRecord) -> None:
        attrs = c.request_attributes(record.operation, record.model, record.max_tokens, record.temperature)
        attrs.update(c.gateway_attributes(record.gateway))
        last = record.attempts[-1] if record.attempts else None
        if last is not None:
            attrs.update(c.provider_attributes(last.provider_name))
        outcome, error = record.outcome, None
        if isinstance(outcome, BaseException):
            error = c.error_type(outcome)
            attrs[c.ERROR_TYPE] = error
            values = record.end_gateway
        else:
            if last is not None and attempt_error(last) is None:
                attrs.update(c.response_attributes(last.response_model, last.response_id, last.finish_reason))
            attrs.update(c.usage_attributes(outcome.usage))
            values = {**c.result_gateway_values(outcome), **(record.end_gateway or {})}
        attrs.update(c.gateway_attributes(values))
        kind = SpanKind.SERVER if record.server else SpanKind.INTERNAL
        span = self._start(
            c.span_name(record.operation, record.model),
            _parent_context(record),
            kind,
            attrs,
            record.start_ns,
            record.span_id,
            record.trace_id_int,
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=record.end_ns)

    def _attempt_span(self, record: RequestRecord, attempt: AttemptRecord, parent) -> None:
        attrs = {
            c.OPERATION: record.operation,
            **c.provider_attributes(attempt.provider_name),
            c.REQUEST_MODEL: attempt.model,
            **c.server_attributes(attempt.address, attempt.port),
        }
        error = attempt_error(attempt)
        if attempt.attempt is not None:
            attrs.update(c.usage_attributes(attempt.attempt.usage if error is None else None))
        attrs.update(c.response_attributes(attempt.response_model, attempt.response_id, attempt.finish_reason))
        if error is not None:
            attrs[c.ERROR_TYPE] = error
        span = self._start(
            c.span_name(record.operation, attempt.model), parent, SpanKind.CLIENT, attrs, attempt.start_ns, attempt.span_id
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        if self.mask is not None and record.messages is not None:
            answer = attempt.output_text if error is None else None
            content = c.content_attributes(record.messages, answer, attempt.finish_reason, self.mask)
            span.add_event(c.CONTENT_EVENT, {c.OPERATION: record.operation, **content}, timestamp=attempt.end_ns)
        span.end(end_time=attempt.end_ns)

    def _metrics(self, record: RequestRecord) -> None:
        inst, attempts = self.instruments, record.attempts
        for i, attempt in enumerate(attempts):
            error = attempt_error(attempt)
            labels = {
                c.OPERATION: record.operation,
                c.PROVIDER: attempt.provider_name,
                c.REQUEST_MODEL: attempt.model,
                **c.server_attributes(attempt.address, attempt.port),
            }
            if attempt.response_model:
                labels[c.RESPONSE_MODEL] = attempt.response_model
            if error is not None:
                labels[c.ERROR_TYPE] = error
                if i + 1 < len(attempts):
                    inst.fallbacks.add(1, {c.PROVIDER: attempt.provider_name, c.ERROR_TYPE: error})
            result = attempt.attempt
            seconds = result.latency_ms / 1000.0 if result is not None else (attempt.end_ns - attempt.start_ns) / 1e9
            inst.duration.record(seconds, labels)
            if result is not None and result.streamed and result.ttft_ms is not None:
                inst.first_chunk.record(result.ttft_ms / 1000.0, labels)
            if error is None and result.usage is not None:
                inst.tokens.record(result.usage.input_tokens, {**labels, c.TOKEN_TYPE: "input"})
                inst.tokens.record(result.usage.output_tokens, {**labels, c.TOKEN_TYPE: "output"})
        outcome = record.outcome
        if attempts and not isinstance(outcome, BaseException) and outcome.cost_usd is not None:
            scope = {**c.gateway_attributes(record.gateway), **c.gateway_attributes(record.end_gateway)}
            last = attempts[-1]
            inst.cost.add(
                float(outcome.cost_usd),
                {
                    c.PROVIDER: last.provider_name,
                    c.REQUEST_MODEL: last.model,
                    **c.metric_labels(scope, c.METRIC_GATEWAY_ATTRIBUTES),
                },
            )


def _parent_context(record: RequestRecord) -> Context:
    parent = record.parent
    if parent is None:
        return Context()  # a root: the preset trace id is used
    state = TraceState.from_header([parent.tracestate]) if parent.tracestate else None
    flags = TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT)
    return set_span_in_context(
        NonRecordingSpan(
            SpanContext(parent.trace_id, parent.span_id, is_remote=parent.remote, trace_flags=flags, trace_state=state)
        )
    )
