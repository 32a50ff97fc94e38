"""Test-wide set-up: hermetic environment, offline tiktoken files, a network guard, and one
summary line per missing system tool (see ``required_tools``).

Any connection to a non-loopback address fails the test loudly: the suite must never
depend on the internet, and a test that silently reached a real cloud would prove nothing.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
import required_tools

ROOT = Path(__file__).resolve().parent.parent
_SHARED_TIKTOKEN = ROOT.parent / "shared" / "tiktoken"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _SHARED_TIKTOKEN.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_SHARED_TIKTOKEN)

# Hermetic AWS: no profile files, no instance metadata, no bearer token.
os.environ.setdefault("AWS_CONFIG_FILE", "/nonexistent")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)


class NetworkGuardError(RuntimeError):
    pass


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded(real):
    def connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise NetworkGuardError(f"test tried to reach a non-loopback address: {address[0]}")
        return real(self, address, *args)

    return connect


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    return required_tools.fold((yield))


@pytest.fixture(autouse=True, scope="session")
def _network_guard():
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


# --- PostgreSQL: one throwaway cluster per session, a fresh schema per test -----------------


@pytest.fixture(scope="session")
def postgres_cluster():
    """The session's PostgreSQL server, started on first use and removed at the end."""
    from pg_cluster import Cluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        required_tools.missing("PostgreSQL server binaries (initdb, pg_ctl)", "apt-get install -y postgresql")
    cluster = Cluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster):
    """A PostgreSQL URL whose connections see an empty schema of their own."""
    from gateway_core.db import postgres

    url = postgres_cluster.new_schema()
    yield url
    postgres.close_pool(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request, tmp_path, monkeypatch):
    """The usage database on each backend: a SQLite file path, then a PostgreSQL URL. On
    PostgreSQL the test runs in its temporary directory, where the log's default spill
    directory (relative to the working directory) then lands."""
    if request.param == "sqlite":
        return tmp_path / "usage.sqlite"
    monkeypatch.chdir(tmp_path)
    return request.getfixturevalue("pg_url")
