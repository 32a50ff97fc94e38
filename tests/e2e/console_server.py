"""A real ``streamlit run console/app.py`` in a subprocess, for the browser tests.

The console runs in demo mode with zero-latency emulators and its own usage log in a
temporary working directory, so no developer ``.env`` or database can leak in. The project's
``.streamlit/config.toml`` is copied there because Streamlit reads it from the working
directory, and the browser must see the console as an operator would (theme, error details
hidden). A planted secret sits in the environment so the tests can prove it never reaches
a page or the server's output.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "console" / "app.py"
CONFIG = ROOT / ".streamlit" / "config.toml"
# Settings the tests own; anything else with these prefixes in the caller's environment is dropped.
_CONFIG_PREFIXES = (
    "GATEWAY_",
    "AZURE_OPENAI_",
    "BEDROCK_",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "STREAMLIT_",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleServer:
    """Start with ``start()``, stop with ``stop()``; ``url`` is the console's base address."""

    def __init__(
        self,
        workdir: Path,
        *,
        startup_timeout_s: float = 60.0,
        extra_env: dict[str, str] | None = None,
        launcher: bool = False,
    ):
        """``extra_env``: settings a scenario adds (a policy, regions). ``launcher``: start through
        ``gateway console``'s own entry (``console.launch.main``) in a directory with no
        ``.streamlit/config.toml``, as an installed console starts."""
        self.workdir = Path(workdir)
        self.extra_env = dict(extra_env or {})
        self.launcher = launcher
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = f"e2e-PLANTED-{secrets.token_hex(12)}"
        self.db_name = "usage_logs.sqlite"  # relative: the sidebar shows the same name a fresh install does
        self.log_path = self.workdir / "streamlit.log"
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def db_path(self) -> Path:
        return self.workdir / self.db_name

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_PREFIXES)}
        env.update(
            GATEWAY_MODE="demo",
            GATEWAY_EMULATOR_PROFILE="zero",
            GATEWAY_DB_PATH=self.db_name,
            GATEWAY_API_KEYS=f"{self.secret},e2e-second-key",
            AZURE_OPENAI_API_KEY=self.secret,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        if self.launcher:
            call = f"from console.launch import main; raise SystemExit(main(['--port', '{self.port}', '--address', '127.0.0.1']))"
            return [sys.executable, "-c", call]
        return [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ]

    def start(self) -> ConsoleServer:
        if not self.launcher:
            (self.workdir / ".streamlit").mkdir(parents=True, exist_ok=True)
            shutil.copy(CONFIG, self.workdir / ".streamlit" / "config.toml")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200 and r.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)  # polling an HTTP endpoint, not waiting on the page
        raise RuntimeError(f"streamlit not healthy after {self.startup_timeout_s:.0f} s:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None
