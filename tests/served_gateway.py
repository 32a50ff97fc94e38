"""``gateway serve`` as a subprocess (the telemetry and multi-instance tests), and waiting on what it exports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedGateway:
    """``with ServedGateway(env, cwd, workers) as gw:`` serves on ``gw.url``; leaving stops it with
    SIGINT (which flushes telemetry) and keeps its output in ``gw.output``."""

    def __init__(self, env: dict[str, str], cwd: Path, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Only the variables given here configure telemetry, whatever the test runner's environment holds.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway_core.cli", "serve", "--port", str(self.port), "--workers", str(workers)],
            env={**inherited, **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = ""

    def __enter__(self) -> ServedGateway:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gateway serve did not start:\n" + self.output[-3000:])
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.output = self.proc.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output = self.proc.communicate()[0].decode(errors="replace")
        return self.proc.returncode

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(check, timeout_s: float = 30.0, what: str = "telemetry"):
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} arrived within {timeout_s:.0f} s")
        time.sleep(0.05)
