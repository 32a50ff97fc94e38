"""Telemetry that is on: private OpenTelemetry providers, a record worker, batch export.

Imported only when ``OTEL_*`` configuration turns telemetry on. The tracer and meter
providers belong to this object and are never installed as the global ones, so two
gateways (or a test and a gateway) in one process keep their own pipelines. The request
path fills a ``RequestRecord`` (see ``recording``) and queues it when the request ends; one
worker thread turns records into spans and metric points (``builder``), spans leave
through a ``BatchSpanProcessor`` and metrics through a ``PeriodicExportingMetricReader``.
So a request pays for clock readings and a deque append, never for building spans or for
HTTP. The worker polls rather than waiting on a queue: a put that wakes a waiting thread
hands it the GIL at once, and the request then waits out the span building before it can
return (the usage-log writer polls for the same reason). If the worker falls more than
``MAX_PENDING`` records behind, new records are dropped and counted rather than letting
memory grow.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import logging
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from opentelemetry.metrics import NoOpMeter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import get_current_span

from ..redact import mask_content, protect, scrub
from . import RequestTrace, Telemetry
from . import conventions as c
from .builder import Instruments, PresetIds, RecordBuilder, bucket_views
from .otel_env import OtelConfig
from .recording import RequestRecord
from .sampling import make_sampler
from .wire import Parent, parent_from_headers

_SCOPE = "gateway_core"
MAX_PENDING = 4096
POLL_S = 0.025  # how long the idle worker sleeps between looks at the pending records
log = logging.getLogger(__name__)
# Shut down at exit with the same time bound as an explicit shutdown; the SDK's own exit
# hooks are turned off because they would wait out every retry of a dead collector.
_LIVE: weakref.WeakSet[OtelTelemetry] = weakref.WeakSet()
_STOP = object()


def _package_version() -> str:
    try:
        return importlib.metadata.version("genai-cloud-gateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _resource(config: OtelConfig) -> Resource:
    # Built from the mapping alone: Resource.create() would also read os.environ, and the
    # gateway's configuration may come from a .env file the process environment lacks.
    return Resource(
        {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": sdk_version,
            "service.version": _package_version(),
            # One per process: each API worker keeps its own cumulative counters, which a
            # backend may only add up when it can tell the workers' streams apart.
            "service.instance.id": uuid.uuid4().hex,
            **config.resource,
        }
    )


def _exporter(config: OtelConfig, signal: str, name: str):
    """The span (``traces``) or metric (``metrics``) exporter called ``name`` in the configuration."""
    if name == "console":
        return ConsoleSpanExporter() if signal == "traces" else ConsoleMetricExporter()
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc import (
            metric_exporter,
            trace_exporter,
        )

        cls = trace_exporter.OTLPSpanExporter if signal == "traces" else metric_exporter.OTLPMetricExporter
        return cls(
            endpoint=config.endpoint,
            headers=tuple(config.headers.items()) or None,
            insecure=config.endpoint.startswith("http://"),
        )
    from opentelemetry.exporter.otlp.proto.http import metric_exporter, trace_exporter

    cls = trace_exporter.OTLPSpanExporter if signal == "traces" else metric_exporter.OTLPMetricExporter
    return cls(endpoint=config.signal_url(signal), headers=dict(config.headers))


def _content_mask(secrets: tuple[str, ...]):
    """The usage log's content masking plus the configured secrets, so stored and exported content agree."""

    def mask(text: str) -> str:
        return scrub(mask_content(text), secrets) or ""

    return mask


def _current_parent() -> Parent | None:
    """The Python caller's own current span, if it has one, so the request nests under it."""
    ctx = get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return Parent(ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled, ctx.trace_state.to_header() or None, ctx.is_remote)


class OtelTelemetry(Telemetry):
    enabled = True

    def __init__(self, config: OtelConfig, *, store_content: bool = False, secrets: Iterable[str] = ()):
        super().__init__(config)
        self.store_content = store_content
        self.dropped = 0
        self._sample = make_sampler(config.sampler, config.sample_ratio)
        protect(config.headers.values())  # collector auth headers are credentials
        resource = _resource(config)
        self._tracer_provider = self._meter_provider = None
        self._exporters: list = []
        tracer = ids = None
        if config.traces:
            ids = PresetIds()
            # Sampling is decided per request on the request path (``sampling``); the worker
            # builds spans only for sampled records, so the SDK keeps every span it is given.
            self._tracer_provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, id_generator=ids, shutdown_on_exit=False)
            for name in config.traces:
                self._exporters.append(_exporter(config, "traces", name))
                self._tracer_provider.add_span_processor(
                    BatchSpanProcessor(self._exporters[-1], schedule_delay_millis=config.span_delay_ms)
                )
            tracer = self._tracer_provider.get_tracer(_SCOPE, _package_version())
        meter = NoOpMeter(_SCOPE)
        if config.metrics:
            exporters = [_exporter(config, "metrics", name) for name in config.metrics]
            self._exporters += exporters
            readers = [PeriodicExportingMetricReader(e, export_interval_millis=config.metric_interval_ms) for e in exporters]
            self._meter_provider = MeterProvider(
                resource=resource, metric_readers=readers, views=bucket_views(), shutdown_on_exit=False
            )
            meter = self._meter_provider.get_meter(_SCOPE, _package_version())
        self.instruments = Instruments(meter)
        mask = _content_mask(tuple(secrets)) if store_content else None
        self._builder = RecordBuilder(tracer, ids, self.instruments, mask)
        self._pending: deque = deque()  # appends and pops are atomic: no lock on the request path
        self._wake = threading.Event()
        self._worker = threading.Thread(target=self._drain, name="telemetry-records", daemon=True)
        self._worker.start()
        _LIVE.add(self)

    # --- the request path ----------------------------------------------------------------

    def start_request(
        self,
        operation: str,
        request_model: str | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        messages=None,
        parent_headers: Mapping[str, str] | None = None,
        gateway_attrs: Mapping[str, object] | None = None,
    ) -> RequestTrace:
        if parent_headers is not None:
            parent, server = parent_from_headers(parent_headers), True
        else:
            parent, server = _current_parent(), False
        return RequestRecord(
            self._submit,
            operation,
            request_model,
            max_tokens,
            temperature,
            messages if self.store_content else None,
            gateway_attrs,
            server,
            parent,
            self._sample,
        )

    def _submit(self, record: RequestRecord) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(record)

    # --- the worker ----------------------------------------------------------------------

    def _drain(self) -> None:
        pending = self._pending
        while True:
            try:
                item = pending.popleft()
            except IndexError:
                self._wake.wait(POLL_S)  # set only by a flush or shutdown, never by a request
                self._wake.clear()
                continue
            if item is _STOP:
                return
            if isinstance(item, threading.Event):  # a flush marker: everything before it is built
                item.set()
                continue
            try:
                self._builder.build(item)
            except Exception:  # noqa: BLE001 - one bad record must not stop telemetry
                log.exception("telemetry: could not record a request")

    def _drained(self, timeout_s: float) -> bool:
        if not self._worker.is_alive():
            return True
        marker = threading.Event()
        self._pending.append(marker)
        self._wake.set()
        return marker.wait(timeout_s)

    # --- gauges, description, flushing -----------------------------------------------------

    def register_gauges(
        self,
        breaker_fn: Callable[[], Iterable[tuple[str, str, str]]] | None = None,
        budget_fn: Callable[[], Iterable[tuple[object, Mapping[str, object]]]] | None = None,
    ) -> None:
        meter = self.instruments.meter
        if breaker_fn is not None:
            meter.create_observable_gauge(
                c.BREAKER_STATE,
                callbacks=[_observer(breaker_fn, c.breaker_points)],
                unit="1",
                description="Circuit breaker state per provider and model: 0 closed, 1 half-open, 2 open.",
            )
        if budget_fn is not None:
            meter.create_observable_gauge(
                c.BUDGET_REMAINING,
                callbacks=[_observer(budget_fn, c.budget_points)],
                unit="USD",
                description="Budget left in US dollars, per team or key.",
            )

    def describe(self) -> dict:
        cfg = self.config
        return {
            "enabled": True,
            "endpoint": cfg.display_endpoint() if "otlp" in cfg.traces + cfg.metrics else None,
            "protocol": cfg.protocol,
            "service_name": cfg.service_name,
            "traces": ",".join(cfg.traces) or "none",
            "metrics": ",".join(cfg.metrics) or "none",
            "content": self.store_content,
            "sampler": cfg.sampler if "ratio" not in cfg.sampler else f"{cfg.sampler} {cfg.sample_ratio:g}",
            "dropped_requests": self.dropped,
        }

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        """Build and export what is pending now; False if that did not finish within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        if not self._drained(timeout_s):
            return False
        remaining = max(0.0, deadline - time.monotonic())
        flushes = [lambda p=p: p.force_flush(timeout_millis=int(remaining * 1000)) for p in self._providers()]
        return _bounded(flushes, remaining)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and stop, within ``timeout_s``: past it the exporters' retries are cut short and
        what is left is dropped, so closing a gateway never hangs on an unreachable collector."""
        deadline = time.monotonic() + timeout_s
        _LIVE.discard(self)
        self._drained(timeout_s)
        self._pending.append(_STOP)
        self._wake.set()
        providers = self._providers()
        self._tracer_provider = self._meter_provider = None
        if not _bounded([p.shutdown for p in providers], max(0.0, deadline - time.monotonic())):
            log.warning(
                "telemetry: the collector at %s did not take the last export within %.1f s; dropped",
                self.config.display_endpoint(),
                timeout_s,
            )
            for exporter in self._exporters:
                exporter.shutdown()

    def _providers(self) -> list:
        return [p for p in (self._tracer_provider, self._meter_provider) if p is not None]


def _observer(fn, to_points):
    def observe(_options):
        return [Observation(value, attrs) for value, attrs in to_points(fn())]

    return observe


def _bounded(calls: list, timeout_s: float) -> bool:
    """Run ``calls`` side by side on daemon threads; True if all finished within ``timeout_s``."""
    threads = [threading.Thread(target=call, name="telemetry-flush", daemon=True) for call in calls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


@atexit.register
def _shutdown_live() -> None:
    for tel in list(_LIVE):
        tel.shutdown()
