"""Fixtures for the emulator tests: one pair of emulators per module, reset between tests,
and SDK clients configured explicitly (pinned retries, short timeouts)."""

from __future__ import annotations

import boto3
import openai
import pytest
from botocore.config import Config

from gateway_core.emulators import start_emulators, tokens

API_VERSION = "2024-10-21"


@pytest.fixture(scope="module")
def emulators():
    tokens.warm()  # loading the encoding must not eat into the tests' short client timeouts
    with start_emulators(profile="zero") as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean(request):
    if "emulators" not in request.fixturenames:
        yield
        return
    emu = request.getfixturevalue("emulators")
    for e in (emu.azure, emu.bedrock):
        e.clear_faults()
        e.set_profile("zero")
        e.reset_stats()
    yield


def azure_client(url: str, max_retries: int = 0, timeout: float = 10.0, api_key: str = "k") -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=url, api_key=api_key, api_version=API_VERSION, max_retries=max_retries, timeout=timeout
    )


def bedrock_client(url: str, attempts: int = 1, read_timeout: float = 10.0):
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, connect_timeout=5, read_timeout=read_timeout)
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


@pytest.fixture
def azure(emulators):
    return azure_client(emulators.azure.url)


@pytest.fixture
def bedrock(emulators):
    return bedrock_client(emulators.bedrock.url)


@pytest.fixture
def make_azure(emulators):
    """Build an Azure client for the running emulator with other retry/timeout settings."""
    return lambda **kw: azure_client(emulators.azure.url, **kw)


@pytest.fixture
def make_bedrock(emulators):
    return lambda **kw: bedrock_client(emulators.bedrock.url, **kw)


def raw_request(url: str, method: str, path: str, body: object = None, headers: dict | None = None):
    """One plain HTTP exchange, for what the SDKs never send (no key, no api-version…).
    Returns (status, lower-cased headers, parsed JSON body or raw bytes)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    try:
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    try:
        return resp.status, hdrs, json.loads(raw)
    except ValueError:
        return resp.status, hdrs, raw


@pytest.fixture
def raw():
    return raw_request
