"""Helpers for the REST governance tests: a server whose governance runs on a test clock,
keys made through the admin API, and clients that present them."""

from __future__ import annotations

import httpx
from openai import OpenAI

ADMIN = "admin-secret-0123456789"
HELLO = [{"role": "user", "content": "Summarise the quarterly storage review in two sentences."}]
CHAT = {"model": "auto", "messages": HELLO, "max_tokens": 64}
GENERATE = {"prompt": "Summarise the quarterly storage review in two sentences.", "max_tokens": 64}


def new_key(admin, name: str, **fields) -> str:
    r = admin.post("/admin/keys", json={"name": name, "team": fields.pop("team", name + "-team"), **fields})
    assert r.status_code == 201, r.text
    return r.json()["key"]


def client(server, key: str, **kw) -> OpenAI:
    return OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=kw.pop("max_retries", 0), timeout=30, **kw)


def post(server, key: str | None, body: dict = GENERATE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(server.url + "/generate", json=body, headers=headers, timeout=30)
