"""The Postman collection in clients/postman: it parses as Collection v2.1, covers every route
the API serves, and each request, replayed against ``gateway serve``, gets the status its own
test script expects."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from client_support import CLIENTS

COLLECTION = CLIENTS / "postman" / "genai-gateway.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def _requests(items: list) -> list[dict]:
    out = []
    for item in items:
        out.extend(_requests(item["item"]) if "item" in item else [item])
    return out


@pytest.fixture(scope="module")
def collection() -> dict:
    return json.loads(COLLECTION.read_text())


def test_collection_is_postman_v2_1_with_bearer_auth_from_a_variable(collection):
    assert collection["info"]["schema"] == SCHEMA
    bearer = [{"key": "token", "value": "{{apiKey}}", "type": "string"}]
    assert collection["auth"] == {"type": "bearer", "bearer": bearer}
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables == {"baseUrl": "http://127.0.0.1:8000", "apiKey": ""}


def test_collection_covers_every_route_the_api_serves(collection, monkeypatch, tmp_path):
    from fastapi.routing import APIRoute

    from gateway_core.api import app_factory

    monkeypatch.chdir(tmp_path)  # no stray .env
    routes = [(m, r) for r in app_factory().routes if isinstance(r, APIRoute) for m in r.methods]
    requests = [item["request"] for item in _requests(collection["item"])]
    called = {(r["method"], "/" + "/".join(r["url"]["path"])) for r in requests}

    def serves(method, route, path):  # a route with a parameter serves every path it matches
        return method == route[0] and route[1].path_regex.match(path) is not None

    assert routes and all(any(serves(m, route, p) for m, p in called) for route in routes)
    assert all(any(serves(m, route, p) for route in routes) for m, p in called)  # and nothing it calls is gone


def _expected_status(item: dict) -> int:
    script = "\n".join(line for event in item["event"] if event["listen"] == "test" for line in event["script"]["exec"])
    return int(re.search(r"to\.have\.status\((\d+)\)", script).group(1))


def test_every_request_gets_the_status_its_test_script_expects(collection, gateway):
    variables = {"baseUrl": gateway.url, "apiKey": gateway.key}

    def fill(text: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda m: variables[m.group(1)], text)

    with httpx.Client(timeout=60) as http:
        for item in _requests(collection["item"]):
            req = item["request"]
            headers = {h["key"]: fill(h["value"]) for h in req["header"]}
            if req.get("auth", collection["auth"])["type"] == "bearer":
                headers["Authorization"] = f"Bearer {fill('{{apiKey}}')}"
            body = fill(req["body"]["raw"]).encode() if "body" in req else None
            response = http.request(req["method"], fill(req["url"]["raw"]), headers=headers, content=body)
            assert response.status_code == _expected_status(item), (item["name"], response.text[:300])
            if "stream" in (req.get("body") or {}).get("raw", ""):
                assert response.headers["content-type"].startswith("text/event-stream")
                assert "data: [DONE]" in response.text
