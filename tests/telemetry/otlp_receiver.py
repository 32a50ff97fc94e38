"""A real OTLP/HTTP receiver on loopback: what a collector would see, decoded with opentelemetry-proto.

It accepts ``POST /v1/traces`` and ``POST /v1/metrics`` with protobuf bodies (gzip or
plain), keeps every body's bytes as received and as decoded, and answers with an empty
export response as a collector does. Tests read spans and metric points from it; the
benchmarks run it as its own process (``python -m tests.telemetry.otlp_receiver``: prints
its URL, serves until stdin closes, then prints what it received as JSON), so its decoding
costs the measured process nothing, as with a real collector.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_SIGNALS = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    raw: bytes  # the body exactly as it arrived
    body: bytes  # decompressed: what a byte search for leaked text must look at
    message: object  # the decoded Export*ServiceRequest


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the stdlib's name
        signal = _SIGNALS.get(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if signal is None:
            return self._reply(404, b"")
        try:
            body = _decompress(raw, self.headers.get("Content-Encoding", ""))
            message = signal[0].FromString(body)
        except Exception:  # noqa: BLE001 - a malformed export is a 400, as a collector answers
            self.server.owner.rejected += 1
            return self._reply(400, b"")
        self.server.owner.add(Received(self.path, dict(self.headers), raw, body, message))
        self._reply(200, signal[1]().SerializeToString())

    def _reply(self, status: int, payload: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


def _decompress(raw: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    return raw


class OtlpReceiver:
    """``with OtlpReceiver() as rx:`` serves on an ephemeral loopback port; ``rx.url`` is the base endpoint."""

    def __init__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.rejected = 0
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="otlp-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, item: Received) -> None:
        with self._lock:
            self._received.append(item)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.received]

    def spans(self) -> list:
        """Every span received, in arrival order."""
        out = []
        for r in self.received:
            if r.path != "/v1/traces":
                continue
            for rs in r.message.resource_spans:
                for ss in rs.scope_spans:
                    out.extend(ss.spans)
        return out

    def spans_by_service(self) -> dict[str, int]:
        """How many spans each ``service.name`` sent."""
        counts: dict[str, int] = {}
        for r in self.received:
            if r.path != "/v1/traces":
                continue
            for rs in r.message.resource_spans:
                name = attributes(rs.resource.attributes).get("service.name", "")
                counts[name] = counts.get(name, 0) + sum(len(ss.spans) for ss in rs.scope_spans)
        return counts

    def resources(self) -> list[dict]:
        return [
            attributes(rs.resource.attributes) for r in self.received if r.path == "/v1/traces" for rs in r.message.resource_spans
        ]

    def metrics(self) -> dict:
        """The latest export's metrics by name (cumulative temporality: the latest is the total).
        For one exporting process; ``metrics_by_instance`` keeps several apart."""
        out = {}
        for metrics in self.metrics_by_instance().values():
            out.update(metrics)
        return out

    def metrics_by_instance(self) -> dict[str, dict]:
        """``{service.instance.id: {name: latest metric}}``: each process's own cumulative totals."""
        out: dict[str, dict] = {}
        for r in self.received:
            if r.path != "/v1/metrics":
                continue
            for rm in r.message.resource_metrics:
                instance = attributes(rm.resource.attributes).get("service.instance.id", "")
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        out.setdefault(instance, {})[metric.name] = metric
        return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def any_value(value):
    """A plain Python value from an OTLP ``AnyValue``."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes(kvs) -> dict:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _serve_until_stdin_closes() -> None:
    with OtlpReceiver() as rx:
        print(rx.url, flush=True)
        sys.stdin.read()
        summary = {
            "traces": sum(r.path == "/v1/traces" for r in rx.received),
            "metrics": sum(r.path == "/v1/metrics" for r in rx.received),
            "spans": len(rx.spans()),
            "spans_by_service": rx.spans_by_service(),
            "rejected": rx.rejected,
        }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    _serve_until_stdin_closes()
