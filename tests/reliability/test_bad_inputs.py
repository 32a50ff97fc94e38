"""The bad-input corpus through every door: the Python API, ``POST /generate`` and ``/v1/chat/completions``.

Each bad request gets a typed ``ValidationError`` naming its field, or a 4xx whose JSON
body names it; nothing reaches a provider; the server keeps serving; and every refusal
is logged as a ``rejected`` row that holds none of the request's content.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from bad_inputs import MARKER, cases_for
from gateway_fixtures import demo_gateway
from reliability_support import LiveServer, db_bytes

from gateway_core import GenerateRequest, ValidationError

ROUTES = {"generate": "/generate", "v1": "/v1/chat/completions"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    db = tmp_path_factory.mktemp("bad_inputs") / "log.sqlite"
    gw = demo_gateway(db)
    with LiveServer(gw) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        yield gw, client
    gw.close()


def post(client: httpx.Client, surface: str, case) -> httpx.Response:
    body = case.generate_body() if surface == "generate" else case.v1_body()
    return client.post(ROUTES[surface], content=body, headers={"content-type": case.content_type})


def provider_calls(gw) -> int:
    return gw.emulators.azure.stats()["requests"] + gw.emulators.bedrock.stats()["requests"]


def refusal_problem(case, surface: str, resp: httpx.Response) -> str | None:
    """Why this response is not a proper refusal of ``case``, or None if it is."""
    if not 400 <= resp.status_code < 500:
        return f"status {resp.status_code}"
    try:
        err = resp.json()["error"]
    except Exception:  # noqa: BLE001 - a non-JSON refusal is itself the finding
        return f"body is not a JSON error: {resp.text[:200]!r}"
    named = err.get("field") if surface == "generate" else err.get("param")
    if not case.names_field(named, surface) and not (case.whole_body_ok and resp.status_code == 413):
        return f"error names {named!r}, expected one of {case.accepted_fields(surface)}: {err.get('message')!r}"
    if MARKER in resp.text:
        return "the error echoes the request's content"
    return None


@pytest.mark.parametrize("case", cases_for("python"), ids=lambda c: c.name)
def test_python_api_rejects_with_the_field_named(served, case):
    gw, _ = served
    before = provider_calls(gw)
    with pytest.raises(ValidationError) as info:
        gw.generate(case.python_request())
    assert case.names_field(info.value.field, "python"), f"{info.value.field!r}: {info.value}"
    assert MARKER not in str(info.value)
    assert provider_calls(gw) == before, "a rejected request reached a provider"


@pytest.mark.parametrize("case", cases_for("generate"), ids=lambda c: c.name)
def test_generate_route_refuses_with_the_field_named(served, case):
    gw, client = served
    before = provider_calls(gw)
    problem = refusal_problem(case, "generate", post(client, "generate", case))
    assert problem is None, problem
    assert provider_calls(gw) == before, "a rejected request reached a provider"


@pytest.mark.parametrize("case", cases_for("v1"), ids=lambda c: c.name)
def test_chat_completions_route_refuses_with_the_field_named(served, case):
    gw, client = served
    before = provider_calls(gw)
    problem = refusal_problem(case, "v1", post(client, "v1", case))
    assert problem is None, problem
    assert provider_calls(gw) == before, "a rejected request reached a provider"


def test_after_the_whole_corpus_the_server_serves_and_logged_no_content(tmp_path):
    db = tmp_path / "corpus.sqlite"
    gw = demo_gateway(db)
    sent = 0
    try:
        with LiveServer(gw) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
            for surface in ROUTES:
                for case in cases_for(surface):
                    assert 400 <= post(client, surface, case).status_code < 500, case.name
                    sent += 1
            good = client.post("/generate", json={"prompt": "Say hello", "task": "chat"})
            assert good.status_code == 200 and good.json()["text"]
            chat = client.post("/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "Hi"}]})
            assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"]
        assert gw.generate(GenerateRequest(prompt="Still there?")).text
    finally:
        gw.close()

    con = sqlite3.connect(db)
    try:
        by_status = dict(con.execute("SELECT status, COUNT(*) FROM usage_logs GROUP BY status"))
        refused = con.execute("SELECT COUNT(*) FROM rejected_requests").fetchone()[0]
        stored = con.execute("SELECT COUNT(*) FROM usage_logs WHERE prompt_text IS NOT NULL OR response_text IS NOT NULL")
        stored = stored.fetchone()[0]
    finally:
        con.close()
    print(f"\nbad inputs: {len(cases_for('python'))} python + {sent} HTTP refusals; log statuses {by_status}, {refused} rejected")
    assert refused == sent, f"{sent} refusals sent, {refused} rejected_requests rows"
    assert by_status == {"ok": 3}, "usage_logs holds provider attempts only"
    assert stored == 0
    assert MARKER.encode() not in db_bytes(db), "rejected content reached the database"
