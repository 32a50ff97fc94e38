"""``serve``: the process behind ``gateway serve`` and ``make api``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from gateway_fixtures import demo_env, log_rows

from gateway_core.api import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_to_expose_live_providers_without_api_keys(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for k, v in {
        "GATEWAY_MODE": "live",
        "AZURE_OPENAI_ENDPOINT": "https://example.invalid",
        "AZURE_OPENAI_API_KEY": "azure-secret-123",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-456",
        "GATEWAY_API_KEYS": "",
    }.items():
        monkeypatch.setenv(k, v)
    assert serve(host="0.0.0.0", port=_free_port()) == 2
    err = capsys.readouterr().err
    assert "GATEWAY_API_KEYS" in err and "secret" not in err


def test_serve_reports_missing_live_configuration_by_name(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_MODE", "live")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    assert serve(port=_free_port()) == 2
    assert "AZURE_OPENAI_ENDPOINT" in capsys.readouterr().err


def test_gateway_serve_answers_over_http_and_flushes_the_log_on_exit(tmp_path):
    db = tmp_path / "served.sqlite"
    port = _free_port()
    env = {**os.environ, **demo_env(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_core.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
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
        ids = [httpx.post(url + "/generate", json={"prompt": f"Hello {i}"}, timeout=30).json()["request_id"] for i in range(3)]
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out[-2000:]
    logged = {r["request_id"] for r in log_rows(db, "final = 1")}
    assert set(ids) <= logged


def test_multi_worker_import_string_resolves_to_the_app_factory(monkeypatch, tmp_path):
    from uvicorn.importer import import_from_string

    from gateway_core import api

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_API_KEYS", "k-123456")
    factory = import_from_string("gateway_core.api:app_factory")
    assert factory is api.app_factory
    app = factory()  # builds settings only; the gateway starts in the worker's lifespan
    assert app.state.settings.api_key_values() == ("k-123456",)


def test_serve_logs_each_request_only_when_access_log_is_asked_for(tmp_path):
    port = _free_port()
    env = {**os.environ, **demo_env(tmp_path / "access.sqlite")}
    code = f"from gateway_core.api import serve; raise SystemExit(serve(port={port}, access_log=True))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
        assert httpx.post(url + "/generate", json={"prompt": "Hello"}, timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out[-2000:]
    assert '"POST /generate HTTP/1.1" 200' in out


def test_a_virtual_key_in_the_database_counts_as_keys_for_exposing_the_api(tmp_path):
    from gateway_core import Settings
    from gateway_core.api.server import _keys_required
    from gateway_core.governance import Governance

    settings = Settings.from_mapping(demo_env(tmp_path / "usage.sqlite"))
    assert not _keys_required(settings)
    with Governance.from_settings(settings) as gov:
        gov.create_key(name="first", team="web")
    assert _keys_required(settings)
