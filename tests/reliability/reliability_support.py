"""Helpers for the reliability suite: run sizes, leak counters, DB bytes, a live API server.

Sizes are chosen so the whole suite stays within a few minutes on a two-core machine;
``GATEWAY_SOAK=1`` (``make soak``) scales them up. Leak checks count what a long-running
process would accumulate: threads and open file descriptors.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

SOAK = os.environ.get("GATEWAY_SOAK", "").strip().lower() not in ("", "0", "false", "no")


def scaled(default: int, soak: int) -> int:
    """``default`` normally, ``soak`` under ``GATEWAY_SOAK=1``."""
    return soak if SOAK else default


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(predicate, timeout_s: float = 15.0) -> bool:
    """Poll until ``predicate()`` holds: threads and sockets wind down asynchronously."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_bytes(db_path: Path) -> bytes:
    """Everything SQLite keeps on disk for ``db_path``: main file, WAL and journal."""
    out = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        p = Path(str(db_path) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


class LiveServer:
    """``create_app(gateway)`` served by a real uvicorn on a loopback port, in a thread."""

    def __init__(self, gateway):
        import uvicorn

        from gateway_core.api import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(gateway), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="reliability-uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        if not settle(lambda: self.server.started, 20):
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)
