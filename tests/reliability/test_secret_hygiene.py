"""Planted credentials never leave the process: not in the log database, logs, error text, API bodies or pages.

The gateway runs in LIVE mode against the standalone emulators (a separate process), with
distinctive keys planted in the environment. The Azure emulator expects a different key,
so Azure answers 401; Bedrock gets injected faults; the REST API sees missing and wrong
bearer keys. Every library logger runs at DEBUG. Then every place a secret could surface
is scanned for any planted value.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from reliability_support import LiveServer, db_bytes, free_port, settle

from gateway_core import GatewayError, GenerateRequest
from gateway_core.gateway import Gateway

ROOT = Path(__file__).resolve().parents[2]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PLANTED = {
    "AZURE_OPENAI_API_KEY": "azk-PLANTED-3f9c1e7a5b2d",
    "AWS_SECRET_ACCESS_KEY": "aws-PLANTED-8d2b6f0e4c1a9e7b",
    "AWS_ACCESS_KEY_ID": "AKIAPLANTED7Q4XZ2M9W",
    "GATEWAY_API_KEYS": "gwk-PLANTED-5e1d9c3b7a",
}
EMULATOR_AZURE_KEY = "emulator-expects-this-other-key"
LOGGERS = ("", "botocore", "boto3", "urllib3", "openai", "httpx", "httpcore", "gateway_core", "uvicorn", "streamlit")


def leaks(text: str | bytes, where: str) -> list[str]:
    """Every planted value (or its distinctive core) found in ``text``."""
    blob = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    found = [f"{name} in {where}" for name, value in PLANTED.items() if value.encode() in blob]
    if not found and b"PLANTED" in blob:
        i = blob.index(b"PLANTED")
        found.append(f"a planted fragment in {where}: {blob[max(0, i - 40) : i + 40]!r}")
    return found


@pytest.fixture(scope="module")
def emulators(tmp_path_factory):
    """The standalone emulators in their own process, output captured to a file."""
    out = tmp_path_factory.mktemp("emulators") / "emulators.log"
    azure_port, bedrock_port = free_port(), free_port()
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway_core.emulators",
                "--azure-port",
                str(azure_port),
                "--bedrock-port",
                str(bedrock_port),
                "--profile",
                "zero",
                "--azure-key",
                EMULATOR_AZURE_KEY,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    urls = (f"http://127.0.0.1:{azure_port}", f"http://127.0.0.1:{bedrock_port}")
    up = settle(lambda: all(_reachable(u) for u in urls), 30)
    if not up:
        proc.kill()
        pytest.fail(f"standalone emulators did not start: {out.read_text(errors='replace')[-2000:]}")
    yield {"azure": urls[0], "bedrock": urls[1], "log": out}
    proc.terminate()
    proc.wait(20)


def _reachable(url: str) -> bool:
    try:
        return httpx.get(url + "/_emulator/stats", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def live_env(emulators, monkeypatch, tmp_path_factory):
    db = tmp_path_factory.getbasetemp() / "secret_hygiene.sqlite"
    env = {
        "GATEWAY_MODE": "live",
        "AZURE_OPENAI_ENDPOINT": emulators["azure"],
        "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini",
        "AWS_REGION": "us-east-1",
        "BEDROCK_ENDPOINT_URL": emulators["bedrock"],
        "BEDROCK_MODEL_ID": HAIKU,
        "GATEWAY_DB_PATH": str(db),
        "GATEWAY_TIMEOUT_S": "1",
        "GATEWAY_SDK_MAX_ATTEMPTS": "2",
        "GATEWAY_STORE_CONTENT": "true",
        **PLANTED,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return db


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def log_text(caplog) -> str:
    parts = [caplog.text]
    for rec in caplog.records:
        parts.append(rec.getMessage())
        if rec.exc_text:
            parts.append(rec.exc_text)
    return "\n".join(parts)


def set_bedrock_faults(emulators, **fields) -> None:
    r = httpx.post(emulators["bedrock"] + "/_emulator/faults", json=fields, timeout=5)
    assert r.status_code == 200, r.text


def python_traffic(gw, emulators) -> tuple[list[str], int]:
    """Drive auth failures and provider errors through the Python API; return every error text."""
    texts, ok = [], 0
    set_bedrock_faults(emulators, error_rate=0.5, mix=[{"status": 503}, {"status": 429}, {"cut_stream_after": 1}], seed=11)
    for i in range(24):
        req = GenerateRequest(prompt=f"secret hygiene {i}", provider_hint=("azure", "bedrock")[i % 2], priority="low_cost")
        try:
            if i % 3 == 0:
                s = gw.stream(req)
                "".join(s)
            else:
                gw.generate(req)
            ok += 1
        except GatewayError as e:
            texts += [str(e), repr(e), e.message]
            texts += [f"{a.error_type} {a.error_message}" for a in getattr(e, "attempts", ()) or ()]
    set_bedrock_faults(emulators)
    return texts, ok


def api_traffic(gw, emulators) -> tuple[list[str], dict]:
    """Wrong and missing bearer keys, provider failures through both routes; every response as text."""
    key = PLANTED["GATEWAY_API_KEYS"]
    good = {"authorization": f"Bearer {key}"}
    seen, statuses = [], {}
    calls = [
        ("post", "/generate", {}, {"prompt": "no key"}),
        ("post", "/generate", {"authorization": "Bearer gwk-wrong-key"}, {"prompt": "wrong key"}),
        ("post", "/v1/chat/completions", {"authorization": "Basic Zm9vOmJhcg=="}, {"model": "auto", "messages": []}),
        ("get", "/v1/models", {}, None),
        ("get", "/healthz", {}, None),
        ("get", "/v1/models", good, None),
        ("post", "/generate", good, {"prompt": "azure says 401", "provider_hint": "azure", "fallback": False}),
        ("post", "/v1/chat/completions", good, {"model": "azure", "messages": [{"role": "user", "content": "401 please"}]}),
        (
            "post",
            "/v1/chat/completions",
            good,
            {"model": "azure", "stream": True, "messages": [{"role": "user", "content": "stream a 401"}]},
        ),
        ("post", "/generate", good, {"prompt": "bedrock works", "provider_hint": "bedrock"}),
        ("post", "/generate", good, {"prompt": "x", "max_tokens": -1}),
    ]
    with LiveServer(gw) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        set_bedrock_faults(emulators, status=503)
        calls.append(("post", "/generate", good, {"prompt": "everything down", "provider_hint": "bedrock"}))
        for method, path, headers, body in calls:
            r = (
                client.request(method, path, headers=headers, json=body)
                if body is not None
                else client.request(method, path, headers=headers)
            )
            statuses[(path, headers.get("authorization", "-")[:12], str(body)[:30])] = r.status_code
            seen.append(f"{r.status_code} {dict(r.headers)} {r.text}")
        set_bedrock_faults(emulators)
    return seen, statuses


def test_planted_keys_never_reach_the_log_logs_errors_or_api_bodies(live_env, debug_logs, emulators):
    gw = Gateway.from_env(dotenv_path=None)
    try:
        assert gw.provider_modes() == {"azure": "LIVE", "bedrock": "LIVE"}
        errors, ok = python_traffic(gw, emulators)
        bodies, statuses = api_traffic(gw, emulators)
        errors += [repr(gw.settings), str(gw.provider_status())]
    finally:
        gw.close()

    # The traffic really exercised the failure paths.
    assert ok > 0 and any("auth_failed" in e for e in errors), errors[:5]
    assert {200, 401, 502} <= set(statuses.values()), statuses
    db, logs = db_bytes(live_env), log_text(debug_logs)
    print(
        f"\nsecrets: {len(PLANTED)} planted; scanned {len(db)} DB bytes, {len(debug_logs.records)} log records, "
        f"{len(errors)} error texts, {len(bodies)} API responses (statuses {sorted(set(statuses.values()))})"
    )
    found = leaks(db, "the usage-log database")
    found += leaks(logs, "captured DEBUG logging")
    found += leaks("\n".join(errors), "exception text")
    found += leaks("\n".join(bodies), "API responses")
    found += leaks(Path(emulators["log"]).read_bytes(), "emulator process output")
    assert not found, "\n".join(found)


def rendered_text(at) -> str:
    """Every element the console rendered, as text: protos, and data frames as CSV."""
    parts = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        value = getattr(node, "value", None) if getattr(node, "type", "") in ("arrow_data_frame", "dataframe") else None
        if value is not None and hasattr(value, "to_csv"):
            parts.append(value.to_csv())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def test_planted_keys_never_appear_on_any_console_page(live_env, debug_logs):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    pages = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    found, rendered = [], 0
    try:
        at = AppTest.from_file(str(ROOT / "console" / "app.py"), default_timeout=60).run()
        for page in pages:
            at.switch_page(f"../pages/{page}").run()
            if at.chat_input:  # the playground: send a prompt that Azure refuses
                at.chat_input[0].set_value("hello from the secret test").run()
            text = rendered_text(at)
            rendered += len(text)
            found += leaks(text, f"console page {page}")
            found += [f"exception on {page}: {e.value}" for e in at.exception]
    finally:
        st.cache_resource.clear()
    found += leaks(log_text(debug_logs), "console DEBUG logging")
    print(f"\nconsole: {len(pages)} pages rendered, {rendered} characters scanned")
    assert rendered > 0 and pages
    assert not found, "\n".join(found)
