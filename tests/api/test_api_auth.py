"""Bearer-key auth: on when GATEWAY_API_KEYS is set, off otherwise; /healthz always open.

The auth-on server is built the way ``gateway serve`` builds it: from settings alone, so
the app's lifespan constructs (and on shutdown closes) its own gateway.
"""

from __future__ import annotations

import httpx
import openai
import pytest
from gateway_fixtures import demo_env, log_rows
from openai import OpenAI

from gateway_core import Settings
from gateway_core.api import create_app

from .conftest import Served

KEYS = ("first-key-0001", "second-key-0002")
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    db = tmp_path_factory.mktemp("auth") / "log.sqlite"
    settings = Settings.from_mapping(demo_env(db, GATEWAY_API_KEYS=",".join(KEYS)))
    app = create_app(settings=settings)
    with Served(app) as s:
        s.db = db
        s.app = app
        yield s


def test_healthz_is_open_without_a_key(locked):
    assert httpx.get(locked.url + "/healthz").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "first-key-0001"},
        {"Authorization": "Basic Zmlyc3Qta2V5LTAwMDE="},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "no-scheme", "basic", "empty"],
)
def test_generate_without_a_valid_key_is_401(locked, headers):
    r = httpx.post(locked.url + "/generate", json={"prompt": "Hello"}, headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "type": "authentication_error",
            "field": None,
            "message": "missing or invalid API key; send Authorization: Bearer <key>",
        }
    }
    assert r.headers["www-authenticate"] == "Bearer"


def test_v1_without_a_valid_key_is_401_in_the_openai_shape(locked):
    for path in ("/v1/models", "/v1/chat/completions"):
        r = httpx.post(locked.url + path, json=CHAT) if "chat" in path else httpx.get(locked.url + path)
        err = r.json()["error"]
        assert r.status_code == 401
        assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", None, "invalid_api_key")


def test_sdk_with_a_wrong_key_raises_authentication_error(locked):
    with OpenAI(base_url=locked.url + "/v1", api_key="nope", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError):
            c.models.list()


@pytest.mark.parametrize("key", KEYS)
def test_each_configured_key_is_accepted(locked, key):
    with OpenAI(base_url=locked.url + "/v1", api_key=key, max_retries=0) as c:
        assert c.chat.completions.create(**CHAT).choices[0].message.content
    r = httpx.post(locked.url + "/generate", json={"prompt": "Hello"}, headers={"Authorization": f"bearer {key}"})
    assert r.status_code == 200


def test_refused_keys_are_logged_as_rejected_without_the_key(locked):
    httpx.post(locked.url + "/generate", json={"prompt": "Hello"}, headers={"Authorization": "Bearer leaked-guess-77"})
    locked.app.state.gateway.usage_log.flush()
    refused = log_rows(locked.db, "error_type = 'authentication_error'", table="rejected_requests")
    assert refused
    assert not any("leaked-guess-77" in str(v) or KEYS[0] in str(v) for row in refused for v in row.values())


def test_without_keys_every_route_is_open(http):
    assert http.get("/v1/models").status_code == 200
    assert http.post("/generate", json={"prompt": "Hello"}).status_code == 200
