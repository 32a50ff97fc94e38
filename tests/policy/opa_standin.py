"""A small stand-in for an OPA server: its REST Data API, evaluated with regopy, on loopback.

It implements the part of OPA's contract the gateway uses: ``POST /v1/data/<path>`` with
an optional ``{"input": ...}`` body answers ``200 {"result": <document>}``, or ``200 {}``
when the document is undefined; ``?provenance=true`` adds the bundle revision; a body that
is not JSON is ``400 invalid_parameter``; an evaluation error is ``500 internal_error``.
``delay_s`` holds every answer back, to make the client time out.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from regopy import Interpreter, LogLevel


class OpaStandIn:
    def __init__(self, policy: str, *, delay_s: float = 0.0, port: int = 0):
        self.delay_s = delay_s
        self.requests = 0
        self._connections: set = set()
        self._lock = threading.Lock()
        self.set_policy(policy)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        # A client that timed out hangs up before the answer: expected here, not worth a traceback.
        self._server.handle_error = lambda request, address: None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_policy(self, policy: str) -> None:
        rego = Interpreter()
        rego.log_level = LogLevel.NONE
        rego.add_module("policy.rego", policy)
        with self._lock:
            self._rego, self.revision = rego, hashlib.sha256(policy.encode()).hexdigest()[:8]

    def drop_connections(self) -> None:
        """Close every kept-alive connection, as a server does with idle ones."""
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def evaluate(self, path: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            if "input" in body:
                self._rego.set_input(body["input"])
            out = self._rego.query("data." + path.replace("/", "."))
        if not out.ok():
            return 500, {"code": "internal_error", "message": "eval_conflict_error: rules must produce one value"}
        expressions = out.results[0].expressions if out.results else []
        return 200, {"result": expressions[0]} if expressions else {}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as OPA does

            def setup(self):
                super().setup()
                standin._connections.add(self.connection)

            def finish(self):
                standin._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass  # the test dropped this connection on purpose

            def do_POST(self):
                standin.requests += 1
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if standin.delay_s:
                    time.sleep(standin.delay_s)
                if not url.path.startswith("/v1/data/"):
                    return self._send(404, {"code": "resource_not_found", "message": "no such API"})
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"code": "invalid_parameter", "message": "body is not JSON"})
                status, answer = standin.evaluate(url.path[len("/v1/data/") :], body)
                if status == 200 and parse_qs(url.query).get("provenance") == ["true"]:
                    bundles = {"routing": {"revision": standin.revision}}
                    answer["provenance"] = {"version": "stand-in", "bundles": bundles}
                self._send(status, answer)

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> OpaStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.drop_connections()
        self._server.shutdown()
        self._server.server_close()
