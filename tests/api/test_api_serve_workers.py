"""``gateway serve --workers 2`` as a user runs it: keep-alive connections without Nagle
delays, quiet by default, and unbothered by clients that hang up mid-body.

One server process (with its two workers) is shared by the module; its combined output
is checked at the end for tracebacks and per-request access lines.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_fixtures import demo_env

from gateway_core.api import nodelay_socket

_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture that has it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Workers:
    """A ``gateway serve --workers 2`` subprocess; ``output()`` stops it and returns its log."""

    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **demo_env(tmp / "workers.sqlite")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway_core.cli", "serve", "--port", str(self.port), "--workers", "2"],
            env=env,
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._out: str | None = None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway serve did not start:\n" + self.output()[-3000:])
            time.sleep(0.1)

    def output(self) -> str:
        if self._out is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            self._out = self.proc.communicate(timeout=60)[0].decode(errors="replace")
        return self._out

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    served = _Workers(tmp_path_factory.mktemp("workers"))
    try:
        served.wait_ready()
        yield served
    finally:
        served.output()


def _borrow_socket(pid: int, fd: int) -> socket.socket | None:
    """A duplicate of another process's socket fd, or None if the kernel will not lend it."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        got = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
    finally:
        os.close(pidfd)
    if got < 0:
        return None
    try:
        return socket.socket(fileno=got)
    except OSError:
        os.close(got)
        return None


def _server_side_of(pids: list[int], peer: tuple[str, int]) -> socket.socket | None:
    """The worker's accepted socket whose peer is ``peer`` (our client end)."""
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for entry in fd_dir.iterdir():
            try:
                if not os.readlink(entry).startswith("socket:"):
                    continue
            except OSError:
                continue
            sock = _borrow_socket(pid, int(entry.name))
            if sock is None:
                continue
            try:
                if sock.type == socket.SOCK_STREAM and sock.getpeername() == peer:
                    return sock
            except OSError:
                pass
            sock.close()
    return None


def test_nodelay_socket_is_inherited_by_accepted_connections():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener = nodelay_socket(listener)
    listener.listen()
    with listener, socket.create_connection(listener.getsockname()) as client:
        conn, _ = listener.accept()
        with conn:
            assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            # asyncio only sets TCP_NODELAY itself on sockets that report the TCP protocol
            assert conn.proto == socket.IPPROTO_TCP
            assert client.fileno() >= 0


def test_worker_keeps_alive_and_answers_without_nagle(workers):
    conn = http.client.HTTPConnection("127.0.0.1", workers.port, timeout=30)
    try:
        statuses = []
        for _ in range(3):
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        assert statuses == [200, 200, 200]
        local = conn.sock.getsockname()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        assert conn.sock.getsockname() == local  # one keep-alive connection throughout
        accepted = _server_side_of(workers.worker_pids(), local)
        if accepted is None:
            pytest.skip("this kernel does not lend another process's sockets (pidfd_getfd)")
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        conn.close()


def test_client_hanging_up_mid_body_does_not_disturb_the_server(workers):
    for _ in range(4):  # enough to reach both workers
        with socket.create_connection(("127.0.0.1", workers.port)) as raw:
            raw.sendall(
                b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 5000\r\n\r\n" + b'{"prompt": "half a bo'
            )
            time.sleep(0.05)  # let the worker start reading the body before the hang-up
    answered = httpx.post(workers.url + "/generate", json={"prompt": "still here?"}, timeout=30)
    assert answered.status_code == 200 and answered.json()["text"]
    out = workers.output()
    assert "Traceback" not in out, out[-3000:]
    assert "ClientDisconnect" not in out
    assert '"POST /generate HTTP/1.1" 200' not in out  # no access log unless asked for
