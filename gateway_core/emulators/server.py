"""Shared plumbing for both emulators: the threaded HTTP/1.1 server, the admin routes,
statistics, and the fault steps every model call goes through.

Each emulator is an ``Emulator``: a ``ThreadingHTTPServer`` on its own daemon thread, plus
its fault state, latency pacer and counters. A provider module subclasses
``EmulatorHandler`` and implements ``handle_model`` and ``send_fault_error``. Streams use
chunked transfer encoding so a cut can leave the body visibly incomplete. Admin routes
(``/_emulator/faults``, ``/_emulator/stats``, ``/_emulator/profile``) live beside the model
routes on the same port and are not counted as model calls.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .faults import Fault, FaultError, FaultState
from .latency import Pacer, Timing

log = logging.getLogger("gateway_core.emulators")
TRACE_CONTEXT_KEPT = 1024  # the W3C trace-context headers of the latest model calls, for tests
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def _int(value: str | None) -> int | None:
    """A header's integer value; 0 when absent, None when malformed."""
    try:
        return int(value or 0)
    except ValueError:
        return None


class Stats:
    """Counters for model calls; ``snapshot`` is what ``GET /_emulator/stats`` returns.

    A client has its last byte before the server thread leaves ``stream()``, so a caller that
    wants ``active_streams`` to be settled waits on ``wait_streams_closed`` instead of reading
    the counter right after its own reads end."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            # ``active_streams`` is a gauge of streams still open, not a count: zeroing it under
            # a stream that is still finishing would drive it below zero when that stream ends.
            active = getattr(self, "_c", {}).get("active_streams", 0)
            self._c = {
                "requests": 0,
                "faults_injected": 0,
                "retries_seen": 0,
                "active_streams": active,
                "max_concurrent_streams": active,
            }
            self._by_route: dict[str, int] = {}
            self._by_status: dict[str, int] = {}

    def call(self, route: str, retry: bool) -> None:
        with self._lock:
            self._c["requests"] += 1
            self._c["retries_seen"] += int(retry)
            self._by_route[route] = self._by_route.get(route, 0) + 1

    def status(self, code: int) -> None:
        with self._lock:
            self._by_status[str(code)] = self._by_status.get(str(code), 0) + 1

    def fault(self) -> None:
        with self._lock:
            self._c["faults_injected"] += 1

    @contextmanager
    def stream(self) -> Iterator[None]:
        with self._lock:
            self._c["active_streams"] += 1
            self._c["max_concurrent_streams"] = max(self._c["max_concurrent_streams"], self._c["active_streams"])
        try:
            yield
        finally:
            with self._lock:
                self._c["active_streams"] -= 1
                self._lock.notify_all()

    def wait_streams_closed(self, timeout: float) -> bool:
        """Block until no stream is open (True) or ``timeout`` seconds pass (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._c["active_streams"] == 0, timeout)

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._c, by_route=dict(self._by_route), by_status=dict(self._by_status))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # 50+ clients connect at once; a short backlog would stall them
    emulator: Emulator

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up (timeouts, cut streams, closed pools) are routine here; only
        # unexpected failures deserve the default traceback on stderr.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Emulator:
    """One running emulator. Public handle: ``url``, ``set_faults``, ``clear_faults``,
    ``faults``, ``stats``, ``reset_stats``, ``wait_streams_closed``, ``trace_context``,
    ``set_profile``, ``close``."""

    def __init__(self, provider: str, handler: type[EmulatorHandler], host: str, port: int, profile, config: dict) -> None:
        self.provider = provider
        self.config = config
        self.fault_state = FaultState()
        self.pacer = Pacer(provider, profile)
        self.counters = Stats()
        self.received_trace_context: deque[dict] = deque(maxlen=TRACE_CONTEXT_KEPT)
        self.stopping = threading.Event()
        self._wake = threading.Condition()
        self._profile_generation = 0
        self._server = _Server((host, port), handler)
        self._server.emulator = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"{provider}-emulator", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def set_faults(self, **fields) -> dict:
        """Replace the fault specification; raises ``FaultError`` (a ValueError) on nonsense."""
        return self.fault_state.set(fields).as_dict()

    def clear_faults(self) -> None:
        self.fault_state.clear()

    def faults(self) -> dict:
        return self.fault_state.spec().as_dict()

    def stats(self) -> dict:
        return dict(self.counters.snapshot(), profile=self.pacer.name)

    def reset_stats(self) -> None:
        self.counters.reset()
        self.received_trace_context.clear()

    def trace_context(self) -> list[dict]:
        """``{"route", "traceparent", "tracestate"}`` of the latest model calls that carried a
        ``traceparent``, oldest first: what a provider would see of the gateway's traces."""
        return list(self.received_trace_context)

    def wait_streams_closed(self, timeout: float = 10.0) -> bool:
        """True once every stream's server side has finished, False after ``timeout`` seconds."""
        return self.counters.wait_streams_closed(timeout)

    def set_profile(self, profile: str | Timing) -> None:
        """Switch latency profile; model delays already in progress end at once."""
        self.pacer.set(profile)
        with self._wake:
            self._profile_generation += 1
            self._wake.notify_all()

    def plan(self, model: str, output_tokens: int) -> tuple[float, float, int]:
        """(time to first token, generation time, profile generation they belong to)."""
        with self._wake:
            generation = self._profile_generation
        return (*self.pacer.plan(model, output_tokens), generation)

    def sleep(self, seconds: float, generation: int | None = None) -> bool:
        """Wait ``seconds``; False when the emulator is closing. A wait planned under profile
        ``generation`` ends as soon as the profile changes, so switching from a slow profile
        to ``zero`` releases the calls and streams already under way."""
        deadline = time.monotonic() + seconds
        with self._wake:
            while not self.stopping.is_set() and generation in (None, self._profile_generation):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(remaining)
        return not self.stopping.is_set()

    def close(self) -> None:
        self.stopping.set()
        with self._wake:
            self._wake.notify_all()  # hung and paced calls end promptly
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class EmulatorHandler(BaseHTTPRequestHandler):
    """Request plumbing shared by the Azure and Bedrock handlers."""

    protocol_version = "HTTP/1.1"
    server_version = "gateway-emulator/1"
    timeout = 300  # idle keep-alive connections eventually free their thread
    route: str | None = None

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        # Small stream writes must leave at once, not wait for Nagle and delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self.route = None
        try:
            length = _int(self.headers.get("Content-Length"))
            if length is None or length < 0:
                self.close_connection = True  # the body cannot be framed, so neither can the next request
                return self.send_json(400, {"error": "Content-Length must be a non-negative integer"})
            self.body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if path.startswith("/_emulator/"):
                self._admin(method, path)
            else:
                self.handle_model(method)
        except _DISCONNECTS:
            self.close_connection = True

    # --- hooks for the provider handlers --------------------------------------------------

    def handle_model(self, method: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def send_fault_error(self, fault: Fault) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- model-call steps -----------------------------------------------------------------

    def count_call(self, route: str) -> None:
        """Record one model call; retries are recognised by the SDKs' attempt headers."""
        self.route = route
        retry = (_int(self.headers.get("x-stainless-retry-count")) or 0) > 0
        m = re.search(r"attempt=(\d+)", self.headers.get("amz-sdk-request") or "")
        retry = retry or (m is not None and int(m.group(1)) > 1)
        self.emulator.counters.call(route, retry)
        parent = self.headers.get("traceparent")
        if parent is not None:
            self.emulator.received_trace_context.append(
                {"route": route, "traceparent": parent, "tracestate": self.headers.get("tracestate")}
            )

    def apply_faults(self, stream: bool) -> Fault | None:
        """Run the pre-answer fault steps. Returns the fault still to apply to the answer
        (a stream cut), or None; sets ``self.finished`` when the call is already over."""
        self.finished = False
        extra, fault = self.emulator.fault_state.draw()
        if fault is not None:
            self.emulator.counters.fault()
        if extra and not self.pause(extra):
            return self._over()
        if fault is None:
            return None
        if fault.hang_s and not self.pause(fault.hang_s):
            return self._over()
        if fault.cut_stream_after is not None:
            if stream:
                return fault
            self.drop()  # a "cut" on a non-stream call: the connection closes with no answer
            return self._over()
        if fault.status is not None:
            self.send_fault_error(fault)
            return self._over()
        return None

    def _over(self) -> None:
        self.finished = True
        return None

    def pause(self, seconds: float, generation: int | None = None) -> bool:
        """Sleep unless the emulator is closing (False means stop now). Pass the profile
        generation from ``Emulator.plan`` for model latency, so a profile switch cuts it short."""
        if seconds <= 0:
            return not self.emulator.stopping.is_set()
        return self.emulator.sleep(seconds, generation)

    # --- writing --------------------------------------------------------------------------

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        if self.route:
            self.emulator.counters.status(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, obj: object, headers: dict | None = None) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.send_body(status, body, "application/json", headers)

    def begin_stream(self, content_type: str, headers: dict | None = None) -> None:
        if self.route:
            self.emulator.counters.status(200)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection abruptly: whatever the client was reading stays incomplete."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    # --- admin routes ---------------------------------------------------------------------

    def _admin(self, method: str, path: str) -> None:
        emu = self.emulator
        if path == "/_emulator/stats" and method == "GET":
            return self.send_json(200, emu.stats())
        if path == "/_emulator/stats" and method == "DELETE":
            emu.reset_stats()
            return self.send_json(200, emu.stats())
        if path == "/_emulator/faults" and method == "GET":
            return self.send_json(200, {"faults": emu.faults()})
        if path == "/_emulator/faults" and method == "DELETE":
            emu.clear_faults()
            return self.send_json(200, {"faults": {}})
        if path in ("/_emulator/faults", "/_emulator/profile") and method == "POST":
            try:
                fields = json.loads(self.body or b"{}")
            except ValueError:
                return self.send_json(400, {"error": "the body must be JSON"})
            try:
                if path.endswith("profile"):
                    emu.set_profile(fields.get("profile") if isinstance(fields, dict) else None)
                    return self.send_json(200, {"profile": emu.pacer.name})
                if not isinstance(fields, dict):
                    raise FaultError("the fault specification must be a JSON object")
                return self.send_json(200, {"faults": emu.set_faults(**fields)})
            except ValueError as exc:
                return self.send_json(400, {"error": str(exc)})
        self.send_json(404, {"error": f"no admin route {method} {path}"})
