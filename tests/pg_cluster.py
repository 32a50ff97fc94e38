"""A throwaway PostgreSQL cluster for the test session: real server binaries, a temporary directory.

``initdb`` refuses to run as root (CI runs as root), so as root the cluster belongs to the
``postgres`` system user Debian's package creates, run through ``runuser``; its directory
sits under the system temporary directory, which that user can traverse. It listens on a
free loopback port and on a socket in its own directory, trusts local connections, and is
stopped and deleted when the session ends. Each test gets a schema of its own (a URL whose
``search_path`` names it): far cheaper than a database per test.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

USER = "gateway"
DATABASE = "gateway"


def find_bindir() -> Path | None:
    """The newest installed server's bin directory (Debian keeps them per major version)."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="gateway-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self, *, durable: bool = False) -> Cluster:
        """Start the server; ``durable`` keeps fsync on (a benchmark), else it is off (tests)."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        os.chmod(self.root, 0o755)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=64MB"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "90", "start")
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def url(self, database: str = DATABASE, schema: str | None = None) -> str:
        base = f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"
        return f"{base}?options={quote(f'-csearch_path={schema}')}" if schema else base

    def new_schema(self) -> str:
        """A fresh, empty schema, and a URL whose connections use it."""
        import psycopg

        name = f"t_{secrets.token_hex(5)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired, OSError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
