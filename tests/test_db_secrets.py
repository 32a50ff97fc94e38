"""A PostgreSQL password in GATEWAY_DB_URL stays out of errors, readiness, logs and the database."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest
from dbq import rows
from gateway_fixtures import demo_env

from gateway_core import ConfigError, GenerateRequest, Settings
from gateway_core.gateway import Gateway

SECRET = "Pg-Planted-Secret-4471"


def _with(url: str, *, password: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_database_is_named_without_its_password(pg_url, caplog):
    caplog.set_level(logging.DEBUG)
    dead = _with(pg_url, password=SECRET, port=_closed_port())
    with pytest.raises(ConfigError) as e:
        Gateway(Settings.from_mapping(demo_env(dead)))
    assert e.value.variable == "GATEWAY_DB_URL" and "127.0.0.1" in e.value.message
    assert SECRET not in str(e.value) and SECRET not in caplog.text


def test_a_working_database_keeps_its_password_out_of_readiness_logs_and_rows(pg_url, caplog):
    caplog.set_level(logging.DEBUG)
    url = _with(pg_url, password=SECRET)  # the test server trusts loopback, so any password connects
    settings = Settings.from_mapping(demo_env(url))
    assert SECRET not in repr(settings) and SECRET in settings.secrets()
    gw = Gateway(settings)
    try:
        gw.generate(GenerateRequest(prompt="hello"))
        assert gw.usage_log.flush()
        assert SECRET not in str(gw.readiness().as_dict())
    finally:
        gw.close()
    stored = rows(pg_url, "SELECT * FROM usage_logs")
    assert stored and SECRET not in str(stored)
    assert SECRET not in caplog.text
