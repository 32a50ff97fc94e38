"""The HTTP/1.1 protocol the API is served with: uvicorn's h11 protocol plus three guards.

uvicorn closes idle keep-alive connections, but a client that sends its request headers
one byte at a time is never idle, so without a deadline a few hundred such clients hold
sockets (and file descriptors) forever. ``GuardedH11Protocol`` gives every request
``header_timeout_s`` to deliver its complete headers, from the moment the connection opens
or the previous answer ends, then answers 408 and closes. Oversize headers (more than
``MAX_HEADER_BYTES``, uvicorn's ``h11_max_incomplete_event_size``) get a 431 and malformed requests a 400, both as JSON in the
``/generate`` error shape instead of uvicorn's plain text. The number of open connections
is bounded separately by uvicorn's ``limit_concurrency`` (see ``server``). Settings reach
the protocol as attributes of uvicorn's ``Config``, which worker processes receive pickled.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT_ATTR = "gateway_header_timeout_s"

_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
_ANSWERS = {
    400: ("invalid_http_request", "the request is not valid HTTP/1.1"),
    408: ("header_timeout", "the request headers did not arrive in time"),
    431: ("headers_too_large", f"the request headers exceed {MAX_HEADER_BYTES} bytes"),
}


def response_bytes(status: int) -> bytes:
    kind, message = _ANSWERS[status]
    body = json.dumps({"error": {"type": kind, "message": message, "field": "headers"}}).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's ``H11Protocol`` with a header-read deadline and JSON protocol errors."""

    def __init__(self, config, *args, **kwargs) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout_s = float(getattr(config, HEADER_TIMEOUT_ATTR, DEFAULT_HEADER_TIMEOUT_S))
        self._header_deadline = None
        self._error_hint = 400
        parse = self.conn.next_event

        def next_event():
            # Wrapped so the handler knows why h11 refused (431 vs 400) and when the
            # headers of a request are complete (the deadline is then lifted).
            try:
                event = parse()
            except h11.RemoteProtocolError as exc:
                self._error_hint = exc.error_status_hint
                raise
            if isinstance(event, h11.Request):
                self._cancel_deadline()
            return event

        self.conn.next_event = next_event

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # Armed first: a pipelined request that the parent parses now lifts it at once.
        self._arm_deadline()  # the next request on this connection gets the same deadline
        super().on_response_complete()

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served; its headers arrived
        self._answer_and_close(408)

    def send_400_response(self, msg: str) -> None:
        self._answer_and_close(self._error_hint if self._error_hint in _ANSWERS else 400)

    def _answer_and_close(self, status: int) -> None:
        # Written by hand: before a request's headers are complete h11 has no request to
        # answer, so it would refuse to frame a response.
        if not self.transport.is_closing():
            self.transport.write(response_bytes(status))
        self.transport.close()
