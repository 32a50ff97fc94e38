"""Set-up for the client tests: a real ``gateway serve`` process in demo mode on a loopback
port, with bearer keys switched on, shared by the .NET client, the Python example and the
request collection. Its usage log is readable, so a test can check that what a client
printed is what the gateway recorded.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from client_support import client_env
from gateway_fixtures import demo_env

API_KEY = "gw-client-test-5f2c9a"


@dataclass(frozen=True)
class Gateway:
    url: str
    key: str
    db: Path

    def logged(self, request_ids: set[str], timeout: float = 10.0) -> dict[str, sqlite3.Row]:
        """The final usage-log rows of these requests, once the server's writer has them."""
        deadline = time.monotonic() + timeout
        while True:
            con = sqlite3.connect(self.db)
            con.row_factory = sqlite3.Row
            try:
                rows = {r["request_id"]: r for r in con.execute("SELECT * FROM usage_logs WHERE final = 1")}
            finally:
                con.close()
            if request_ids <= set(rows) or time.monotonic() > deadline:
                return {k: rows[k] for k in request_ids if k in rows}
            time.sleep(0.1)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Gateway:
    base = tmp_path_factory.mktemp("served")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = base / "usage.sqlite"
    env = {**client_env(), **demo_env(db, GATEWAY_API_KEYS=API_KEY)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_core.cli", "serve", "--port", str(port)],
        env=env,
        cwd=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.1)
        yield Gateway(url=url, key=API_KEY, db=db)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
