"""Shared set-up for the REST API tests: a demo gateway served by a real uvicorn on loopback.

The server runs in a thread on a free port; clients are the official ``openai`` SDK and
``httpx``, speaking real HTTP. Each module gets its own gateway and SQLite file, so the
faults one test sets or the breaker state it leaves cannot leak into another module.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from gateway_fixtures import demo_gateway, log_rows
from openai import OpenAI

from gateway_core.api import create_app


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return tmp_path_factory.mktemp("api") / "usage_logs.sqlite"


@pytest.fixture(scope="module")
def gw(db_path):
    g = demo_gateway(db_path)
    yield g
    g.close()


@pytest.fixture(scope="module")
def server(gw):
    with Served(create_app(gw)) as s:
        yield s


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def sdk(server):
    with OpenAI(base_url=server.url + "/v1", api_key="not-checked", max_retries=0, timeout=30) as c:
        yield c


def rows(gw, where: str = "1=1") -> list[dict]:
    """Usage-log rows after the background writer has caught up."""
    gw.usage_log.flush()
    return log_rows(gw.usage_log.path, where)


def rejected(gw, where: str = "1=1") -> list[dict]:
    """Rows of ``rejected_requests`` after the background writer has caught up."""
    gw.usage_log.flush()
    return log_rows(gw.usage_log.path, where, table="rejected_requests")


# --- a governed server: keys, budgets and limits, with governance on a clock the tests move ---


@pytest.fixture(scope="module")
def clock():
    from governance.conftest import Clock

    return Clock()


@pytest.fixture(scope="module")
def governed(tmp_path_factory, clock):
    from governance.gateway_support import governed_gateway

    from .governed import ADMIN

    db = tmp_path_factory.mktemp("governed") / "usage.sqlite"
    gw = governed_gateway(db, clock, GATEWAY_ADMIN_KEY=ADMIN)
    with Served(create_app(gw)) as s:
        s.gw, s.db = gw, db
        yield s
    gw.close()


@pytest.fixture(scope="module")
def admin(governed):
    from .governed import ADMIN

    with httpx.Client(base_url=governed.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as c:
        yield c
