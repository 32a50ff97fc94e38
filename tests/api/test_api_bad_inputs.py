"""Bad requests on both routes: each gets its documented 4xx naming the field, is recorded in
``rejected_requests`` without its content, and leaves the server serving."""

from __future__ import annotations

import json

import pytest

from gateway_core.api.body import MAX_BODY_BYTES

from .conftest import rejected, rows

MARK = "PROMPTMARK-91c2"
P = f"{MARK} hello"
MSGS = [{"role": "user", "content": P}]
GEN, V1 = "/generate", "/v1/chat/completions"


def j(obj) -> bytes:
    return json.dumps(obj).encode()


def v1(**fields) -> bytes:
    return j({"model": "auto", "messages": MSGS, **fields})


def chunked(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i : i + size]


# (id, route, body, content-type, status, field)
CASES = [
    ("missing_prompt", GEN, j({"task": "chat"}), "application/json", 422, "prompt"),
    ("empty_prompt", GEN, j({"prompt": ""}), "application/json", 422, "prompt"),
    ("whitespace_prompt", GEN, j({"prompt": " \n\t "}), "application/json", 422, "prompt"),
    ("prompt_is_number", GEN, j({"prompt": 42}), "application/json", 422, "prompt"),
    ("prompt_is_list", GEN, j({"prompt": [P]}), "application/json", 422, "prompt"),
    ("unknown_task", GEN, j({"prompt": P, "task": "poem"}), "application/json", 422, "task"),
    ("unknown_priority", GEN, j({"prompt": P, "priority": "cheapest"}), "application/json", 422, "priority"),
    ("unknown_hint", GEN, j({"prompt": P, "provider_hint": "gcp"}), "application/json", 422, "provider_hint"),
    ("unknown_model", GEN, j({"prompt": P, "model": "gpt-9"}), "application/json", 422, "model"),
    ("max_tokens_zero", GEN, j({"prompt": P, "max_tokens": 0}), "application/json", 422, "max_tokens"),
    ("max_tokens_negative", GEN, j({"prompt": P, "max_tokens": -1}), "application/json", 422, "max_tokens"),
    ("max_tokens_billion", GEN, j({"prompt": P, "max_tokens": 10**9}), "application/json", 422, "max_tokens"),
    ("max_tokens_bool", GEN, j({"prompt": P, "max_tokens": True}), "application/json", 422, "max_tokens"),
    ("max_tokens_string", GEN, j({"prompt": P, "max_tokens": "100"}), "application/json", 422, "max_tokens"),
    ("temperature_nan", GEN, f'{{"prompt": "{P}", "temperature": NaN}}'.encode(), "application/json", 400, "temperature"),
    ("temperature_overflow", GEN, f'{{"prompt": "{P}", "temperature": 1e999}}'.encode(), "application/json", 400, "temperature"),
    ("temperature_negative", GEN, j({"prompt": P, "temperature": -1}), "application/json", 422, "temperature"),
    ("temperature_three", GEN, j({"prompt": P, "temperature": 3}), "application/json", 422, "temperature"),
    ("stream_not_bool", GEN, j({"prompt": P, "stream": "yes"}), "application/json", 422, "stream"),
    ("user_too_long", GEN, j({"prompt": P, "user": "u" * 500}), "application/json", 422, "user"),
    ("unknown_field", GEN, j({"prompt": P, "max_token": 5}), "application/json", 422, "max_token"),
    ("malformed_json", GEN, f'{{"prompt": "{P}",'.encode(), "application/json", 400, "body"),
    ("empty_body", GEN, b"", "application/json", 400, "body"),
    ("not_an_object", GEN, j([P]), "application/json", 400, "body"),
    ("duplicate_key", GEN, f'{{"prompt": "{P}", "prompt": ""}}'.encode(), "application/json", 400, "prompt"),
    ("deep_nesting", GEN, ('{"prompt": ' + "[" * 50_000 + "]" * 50_000 + "}").encode(), "application/json", 400, "body"),
    ("text_plain", GEN, j({"prompt": P}), "text/plain", 415, "content-type"),
    ("form_body", GEN, f"prompt={MARK}".encode(), "application/x-www-form-urlencoded", 415, "content-type"),
    ("invalid_utf8", GEN, b'{"prompt": "' + MARK.encode() + b' \xff\xfe"}', "application/json", 400, "body"),
    ("oversized", GEN, j({"prompt": MARK + "x" * MAX_BODY_BYTES}), "application/json", 413, "body"),
    ("v1_missing_model", V1, j({"messages": MSGS}), "application/json", 400, "model"),
    ("v1_unknown_model", V1, v1(model="gpt-9-preview"), "application/json", 400, "model"),
    ("v1_messages_empty", V1, v1(messages=[]), "application/json", 400, "messages"),
    ("v1_messages_missing", V1, j({"model": "auto"}), "application/json", 400, "messages"),
    ("v1_bad_role", V1, v1(messages=[{"role": "wizard", "content": P}]), "application/json", 400, "messages[0].role"),
    ("v1_content_number", V1, v1(messages=[{"role": "user", "content": 5}]), "application/json", 400, "messages[0].content"),
    ("v1_no_user_turn", V1, v1(messages=[{"role": "system", "content": P}]), "application/json", 400, "messages"),
    (
        "v1_image_part",
        V1,
        v1(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
        "application/json",
        400,
        "messages[0].content[0]",
    ),
    ("v1_max_tokens_zero", V1, v1(max_tokens=0), "application/json", 400, "max_tokens"),
    ("v1_max_completion_negative", V1, v1(max_completion_tokens=-1), "application/json", 400, "max_completion_tokens"),
    ("v1_temperature_three", V1, v1(temperature=3), "application/json", 400, "temperature"),
    ("v1_temperature_nan", V1, v1()[:-1] + b', "temperature": NaN}', "application/json", 400, "temperature"),
    ("v1_priority_unknown", V1, v1(priority="fast"), "application/json", 400, "priority"),
    ("v1_n_two", V1, v1(n=2), "application/json", 400, "n"),
    ("v1_stream_options_string", V1, v1(stream=True, stream_options="yes"), "application/json", 400, "stream_options"),
    ("v1_duplicate_key", V1, v1()[:-1] + b', "model": "azure"}', "application/json", 400, "model"),
    ("v1_malformed_json", V1, b'{"model": "auto", "messages": [', "application/json", 400, "body"),
    ("v1_not_an_object", V1, b'"hello"', "application/json", 400, "body"),
    ("v1_wrong_content_type", V1, v1(), "text/plain", 415, "content-type"),
    (
        "v1_oversized_chunked",
        V1,
        v1(user="u", messages=[{"role": "user", "content": "y" * MAX_BODY_BYTES}]),
        "application/json",
        413,
        "body",
    ),
]


@pytest.mark.parametrize("name,route,body,ctype,status,field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_field_and_logged_without_content(http, gw, name, route, body, ctype, status, field):
    before = len(rejected(gw))
    content = chunked(body) if name.endswith("_chunked") else body
    r = http.post(route, content=content, headers={"Content-Type": ctype})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if route == V1:
        assert set(err) >= {"message", "type", "param", "code"}
        assert err["type"] == "invalid_request_error" and err["param"] == field
    else:
        assert set(err) == {"type", "message", "field"}
        assert err["field"] == field
    assert MARK not in r.text
    logged = rejected(gw)
    assert len(logged) == before + 1
    assert (logged[-1]["source"], logged[-1]["field"]) == ("api", field or "body")
    assert not any(MARK in str(v) for row in logged for v in row.values())
    assert not rows(gw, "provider IS NULL"), "a refusal reached the provider-attempt log"


def test_server_still_serves_after_the_bad_inputs(http):
    for _name, route, body, ctype, _, _ in CASES:
        http.post(route, content=body, headers={"Content-Type": ctype})
    assert http.get("/healthz").json()["status"] == "ok"
    ok = http.post(GEN, json={"prompt": "Still there?"})
    assert ok.status_code == 200 and ok.json()["text"].strip()
    ok = http.post(V1, json={"model": "auto", "messages": [{"role": "user", "content": "And here?"}]})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"].strip()


def test_oversized_declared_length_is_refused_before_the_body_is_read(server):
    # A client announcing a huge body gets 413 without the server waiting for it.
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1073741824\r\n\r\n{"prompt": '
        )
        reply = b""
        while b'"field":"body"' not in reply:
            data = s.recv(65536)
            if not data:
                break
            reply += data
    reply = reply.decode()
    assert reply.startswith("HTTP/1.1 413")
    assert '"field":"body"' in reply


def test_unknown_route_is_a_404_in_the_route_shape(http):
    assert http.get("/v1/nope").json()["error"]["type"] == "invalid_request_error"
    assert http.get("/nope").json()["error"]["type"] == "not_found"
    assert http.get("/generate").status_code == 405


ODD_VALUES = [None, True, -1, 1.5, "", [1], {"a": [1]}, "\ud800"]
GEN_FIELDS = ["prompt", "task", "priority", "provider_hint", "max_tokens", "temperature", "user", "stream", "fallback", "model"]
V1_FIELDS = [
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "user",
    "stream",
    "stream_options",
    "priority",
    "fallback",
    "n",
]


def test_no_value_in_any_field_causes_a_server_error(http):
    """Every field, every JSON type: the answer is a success or a 4xx, never a 5xx."""
    seen = set()
    for route, base, fields in (
        (GEN, {"prompt": "Hi"}, GEN_FIELDS),
        (V1, {"model": "auto", "messages": [{"role": "user", "content": "Hi"}]}, V1_FIELDS),
    ):
        for name in fields:
            for value in ODD_VALUES:
                r = http.post(
                    route, content=json.dumps({**base, name: value}).encode(), headers={"Content-Type": "application/json"}
                )
                assert r.status_code < 500, (route, name, value, r.text)
                seen.add(r.status_code)
    for value in ODD_VALUES:
        for msg in ({"role": value, "content": "Hi"}, {"role": "user", "content": value}, value):
            r = http.post(
                V1,
                content=json.dumps({"model": "auto", "messages": [msg]}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code < 500, (msg, r.text)
    assert {200, 400, 422} <= seen
