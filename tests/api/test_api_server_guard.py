"""The HTTP server's own guards, with real sockets: a header-read deadline that slow clients
cannot dodge by trickling bytes, a bound on connections, and JSON answers to requests that
are not valid HTTP. The app runs under uvicorn exactly as ``gateway serve`` configures it."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from gateway_fixtures import demo_env

from gateway_core.api import create_app
from gateway_core.api.server import server_config
from gateway_core.config import Settings
from gateway_core.gateway import Gateway

HEADER_TIMEOUT_S = 1.0


class GuardedServer:
    def __init__(self, tmp_path, **env):
        settings = Settings.from_mapping(
            demo_env(tmp_path / "guard.sqlite", GATEWAY_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S), **env)
        )
        self.gateway = Gateway(settings)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(create_app(self.gateway), settings, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()
        self.gateway.close()


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /generate HTTP/1.1\r\nHost: localhost\r\n")
    return s


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_trickling_clients_neither_block_a_normal_request_nor_stay_open(tmp_path):
    with GuardedServer(tmp_path) as srv:
        slow = [_connect(srv.port) for _ in range(300)]
        stop = threading.Event()

        def trickle():
            # One header byte per connection every 100 ms: never idle, never complete.
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass
                stop.wait(0.1)

        dripper = threading.Thread(target=trickle, daemon=True)
        dripper.start()
        try:
            started = time.monotonic()
            r = httpx.post(srv.url + "/generate", json={"prompt": "Hello"}, timeout=10)
            assert r.status_code == 200 and r.json()["text"]
            assert time.monotonic() - started < HEADER_TIMEOUT_S * 3
            answers = [_read_all(s) for s in slow]  # each returns once the server closes it
        finally:
            stop.set()
            dripper.join(5)
            for s in slow:
                s.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    body = json.loads(answers[0].split(b"\r\n\r\n", 1)[1])
    assert body["error"]["type"] == "header_timeout"


def test_a_keep_alive_connection_gets_the_same_deadline_for_its_next_request(tmp_path):
    with GuardedServer(tmp_path) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.2)  # the first answer is sent
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: local")  # then nothing more
        data = _read_all(s)
        s.close()
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1 ") == 2
    assert b"\r\n\r\n" + b'{"status":"ok","mode":"demo"}HTTP/1.1 408 ' in data


def test_oversize_headers_get_a_431_json_answer(tmp_path):
    with GuardedServer(tmp_path) as srv:
        r = httpx.get(srv.url + "/healthz", headers={"x-big": "a" * 200_000}, timeout=10)
    assert r.status_code == 431
    assert r.json()["error"]["type"] == "headers_too_large"


def test_a_request_that_is_not_http_gets_a_400_json_answer(tmp_path):
    with GuardedServer(tmp_path) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"HELLO THERE\r\n\r\n")
        answer = _read_all(s)
        s.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/json" in head
    assert json.loads(body)["error"]["type"] == "invalid_http_request"


@pytest.mark.parametrize("limit", [3])
def test_connections_beyond_the_limit_are_turned_away(tmp_path, limit):
    with GuardedServer(tmp_path, GATEWAY_MAX_CONNECTIONS=str(limit)) as srv:
        held = [_connect(srv.port) for _ in range(limit)]
        try:
            time.sleep(0.2)  # let the server accept them
            r = httpx.get(srv.url + "/healthz", timeout=10)
        finally:
            for s in held:
                s.close()
        assert r.status_code == 503
        time.sleep(0.2)
        assert httpx.get(srv.url + "/healthz", timeout=10).status_code == 200
