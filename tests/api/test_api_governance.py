"""Governance through the REST API: virtual keys, allow-lists, budgets and rate limits, driven by the
official ``openai`` SDK and ``httpx`` over real HTTP, with keys made through the admin API.

The server's governance runs on a clock the tests move (for expiry and rate windows); the
usage log and the budget ledger are read from the SQLite file itself.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import httpx
import openai
import pytest
from governance.conftest import Clock
from governance.gateway_support import attempt_rows, governed_gateway, ledger, rejected_rows, request, worst_case_usd

from gateway_core.api import create_app

from .conftest import Served
from .governed import ADMIN, CHAT, GENERATE, client, new_key, post

# --- keys -----------------------------------------------------------------------------------


def test_a_virtual_key_works_with_the_sdk_and_its_rows_name_the_key_and_team(governed, admin):
    key = new_key(admin, "sdk-user", team="platform", rpm=100, tpm=100_000)
    with client(governed, key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(**CHAT)
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    assert raw.headers["x-ratelimit-remaining-requests"] == "99"
    assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    logged = attempt_rows(governed.gw, f"request_id = '{raw.headers['x-request-id']}'")
    assert [(r["key_name"], r["team"]) for r in logged] == [("sdk-user", "platform")]


def test_streams_carry_the_rate_limit_headers_too(governed, admin):
    key = new_key(admin, "streamer", rpm=50)
    with client(governed, key) as sdk:
        with sdk.chat.completions.with_streaming_response.create(**CHAT, stream=True) as raw:
            assert raw.headers["x-ratelimit-limit-requests"] == "50"
            assert "".join(raw.iter_lines())
    with httpx.stream(
        "POST", governed.url + "/generate", json={**GENERATE, "stream": True}, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "48"
        r.read()


@pytest.mark.parametrize("route", ["/generate", "/v1/chat/completions"])
def test_an_unknown_key_is_401_in_the_route_shape(governed, admin, route):
    new_key(admin, "exists-" + route.strip("/").replace("/", "-"))  # keys exist: the API requires one
    body = GENERATE if route == "/generate" else CHAT
    for headers in ({}, {"Authorization": "Bearer gwk_aaaaaaaaaa_notarealsecretnotarealsecret"}):
        r = httpx.post(governed.url + route, json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        err = r.json()["error"]
        assert err["message"] == "missing or invalid API key; send Authorization: Bearer <key>"
        if route == "/generate":
            assert err == {"type": "authentication_error", "message": err["message"], "field": None}
        else:
            assert (err["type"], err["code"], err["param"]) == ("invalid_request_error", "invalid_api_key", None)


def test_revocation_takes_effect_on_the_next_request_with_the_reason(governed, admin):
    key = new_key(admin, "to-revoke")
    with client(governed, key) as sdk:
        sdk.chat.completions.create(**CHAT)
        r = admin.post("/admin/keys/to-revoke/revoke", json={"reason": "laptop stolen"})
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        with pytest.raises(openai.AuthenticationError) as refused:
            sdk.chat.completions.create(**CHAT)
    assert refused.value.code == "key_revoked"
    assert "laptop stolen" in refused.value.message
    r = post(governed, key)
    assert r.status_code == 401 and r.json()["error"]["message"] == "API key 'to-revoke' was revoked: laptop stolen"


def test_an_expired_key_is_401_saying_when_it_expired(governed, admin, clock):
    key = new_key(admin, "expiring", expires_at=clock.now + 30)
    assert post(governed, key).status_code == 200
    clock.advance(31)
    try:
        r = post(governed, key)
    finally:
        clock.advance(-31)
    assert r.status_code == 401
    assert r.json()["error"]["message"].startswith("API key 'expiring' expired at 2026-04-15T12:00:30Z")


def test_a_model_outside_the_allow_list_is_403_on_both_routes(governed, admin):
    key = new_key(admin, "mini-only", models=["gpt-4o-mini"])
    r = post(governed, key, {**GENERATE, "model": "gpt-4o"})
    assert r.status_code == 403
    assert r.json()["error"] == {
        "type": "model_not_allowed",
        "message": "key 'mini-only' may not use model 'gpt-4o'",
        "field": "model",
    }
    with client(governed, key) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            sdk.chat.completions.create(**{**CHAT, "model": "gpt-4o"})
        assert (refused.value.code, refused.value.param) == ("model_not_allowed", "model")
        assert sdk.chat.completions.create(**CHAT).model == "gpt-4o-mini"  # auto stays inside the list
    rows = rejected_rows(governed.gw, key="mini-only")
    assert [r["error_type"] for r in rows] == ["model_not_allowed", "model_not_allowed"]


# --- budgets and rate limits ----------------------------------------------------------------


def test_a_spent_budget_is_429_insufficient_quota_and_the_sdk_does_not_retry_it(governed, admin):
    worst = worst_case_usd(governed.gw, request(max_tokens=64))
    assert admin.patch("/admin/teams/broke", json={"budget_usd": str(worst / 2)}).status_code == 200
    key = new_key(admin, "broke-key", team="broke")
    with client(governed, key, max_retries=2) as sdk:
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.chat.completions.create(**CHAT)
    body = refused.value.body
    assert (body["type"], body["code"], body["budget"]) == ("insufficient_quota", "budget_exceeded", "team:broke")
    assert body["resets_at"] == "2026-05-01T00:00:00Z"
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert len(rejected_rows(governed.gw, key="broke-key")) == 1  # one request, not three
    r = post(governed, key)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 86_400
    err = r.json()["error"]
    assert (err["type"], err["budget"]) == ("budget_exceeded", "team:broke")
    assert "resets at 2026-05-01T00:00:00Z" in err["message"]


def test_a_spent_rate_limit_is_429_with_retry_after_and_the_limit_headers(governed, admin):
    key = new_key(admin, "two-a-minute", rpm=2)
    assert [post(governed, key).status_code for _ in range(2)] == [200, 200]
    r = post(governed, key)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"
    assert (r.headers["x-ratelimit-limit-requests"], r.headers["x-ratelimit-remaining-requests"]) == ("2", "0")
    assert r.json()["error"]["type"] == "rate_limited"
    with client(governed, key) as sdk:
        with pytest.raises(openai.RateLimitError) as limited:
            sdk.chat.completions.create(**CHAT)
    assert (limited.value.code, limited.value.body["type"]) == ("rate_limited", "requests")


def test_past_the_soft_limit_the_answer_says_it_stepped_down(governed, admin):
    worst = worst_case_usd(governed.gw, request(max_tokens=64))
    admin.patch("/admin/teams/frugal", json={"budget_usd": str(worst * 8), "soft": 0.8})
    key = new_key(admin, "frugal-key", team="frugal")
    with client(governed, key) as sdk:
        for _ in range(400):
            governed.gw.governance.flush()  # settled, so the soft limit is met in small steps
            raw = sdk.chat.completions.with_raw_response.create(**{**CHAT, "model": "bedrock"})
            if "x-gateway-budget" in raw.headers:
                break
        else:
            pytest.fail("the soft limit never stepped a request down")
    assert raw.headers["x-gateway-budget"].startswith("soft-limit; team 'frugal' budget at ")
    assert (raw.headers["x-gateway-provider"], raw.headers["x-gateway-model"]) == ("azure", "gpt-4o-mini")
    assert "stepped down" in raw.parse().model_extra["x_gateway"]["route_reason"]


def test_a_hard_budget_holds_against_64_parallel_sdk_requests(governed, admin):
    worst = worst_case_usd(governed.gw, request(max_tokens=64), ("gpt-4o-mini",))
    budget = worst * 10 + Decimal("0.000001")
    admin.patch("/admin/teams/racing", json={"budget_usd": str(budget)})
    key = new_key(admin, "racing-key", team="racing", models=["gpt-4o-mini"])
    outcomes: list = [None] * 64
    barrier = threading.Barrier(64)

    def one(i: int) -> None:
        with client(governed, key) as sdk:
            barrier.wait()
            try:
                outcomes[i] = sdk.chat.completions.with_raw_response.create(**CHAT).headers["x-request-id"]
            except openai.RateLimitError as e:
                outcomes[i] = e.body["code"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served = [o for o in outcomes if o and o.startswith("req_")]
    refused = [o for o in outcomes if o not in served]
    assert len(served) >= 10 and set(refused) <= {"budget_exceeded"} and len(served) + len(refused) == 64
    governed.gw.governance.flush()
    spent, reserved = ledger(governed.db, "team:racing")
    assert reserved == 0 and spent <= budget
    rows = attempt_rows(governed.gw, "key_name = 'racing-key'")
    assert sorted({r["request_id"] for r in rows}) == sorted(served)
    assert len(rows) == len(served)  # one attempt each: rows = attempts
    assert Decimal(str(sum(r["cost_usd"] for r in rows))) == pytest.approx(spent)
    assert len(rejected_rows(governed.gw, key="racing-key")) == len(refused)


# --- secrets --------------------------------------------------------------------------------


def test_a_key_never_appears_in_logs_rows_errors_or_bodies(governed, admin, caplog):
    caplog.set_level(logging.DEBUG)
    created = admin.post("/admin/keys", json={"name": "secretive", "team": "web", "rpm": 1})
    key = created.json()["key"]
    secret = key.split("_", 2)[2]
    bodies = []
    with client(governed, key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(**CHAT)
        bodies.append(raw.http_response.text)
        with pytest.raises(openai.RateLimitError) as limited:  # rpm 1: refused
            sdk.chat.completions.create(**CHAT)
        bodies.append(limited.value.response.text)
    admin.post("/admin/keys/secretive/revoke", json={"reason": "done"})
    bodies.append(post(governed, key).text)
    bodies += [admin.get(p).text for p in ("/admin/keys", "/admin/teams", "/admin/budgets")]
    governed.gw.usage_log.flush()
    governed.gw.governance.flush()
    # The database, its WAL, and any spill file beside it.
    entries = [f for f in governed.db.parent.iterdir() if f.name.startswith(governed.db.name)]
    files = [p for f in entries for p in ([f] if f.is_file() else f.rglob("*")) if p.is_file()]
    blob = b"".join(f.read_bytes() for f in files)
    assert b"secretive" in blob  # the scan sees the rows
    assert secret.encode() not in blob and secret[:12].encode() not in blob
    assert not any(secret in b for b in bodies)
    assert not any(secret in r.getMessage() for r in caplog.records)


# --- static keys and the open API -----------------------------------------------------------


@pytest.fixture
def fresh(tmp_path):
    clock = Clock()
    gw = governed_gateway(tmp_path / "usage.sqlite", clock, GATEWAY_ADMIN_KEY=ADMIN)
    with Served(create_app(gw)) as s:
        s.gw = gw
        yield s
    gw.close()


def test_the_api_is_open_until_the_first_key_exists(fresh):
    r = post(fresh, None)
    assert r.status_code == 200
    assert [(row["key_name"], row["team"]) for row in attempt_rows(fresh.gw)] == [(None, "default")]
    created = httpx.post(
        fresh.url + "/admin/keys", json={"name": "first", "team": "web"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert post(fresh, None).status_code == 401
    assert post(fresh, created.json()["key"]).status_code == 200


def test_static_keys_run_as_numbered_keys_of_the_default_team(tmp_path):
    clock = Clock()
    gw = governed_gateway(tmp_path / "usage.sqlite", clock, GATEWAY_API_KEYS="static-one-0001,static-two-0002")
    try:
        gw.governance.set_team("default", rpm=1)  # a limit on the default team caps the static keys
        with Served(create_app(gw)) as s:
            assert post(s, "static-two-0002").status_code == 200
            limited = post(s, "static-one-0001")
            assert limited.status_code == 429 and limited.headers["x-ratelimit-limit-requests"] == "1"
        rows = attempt_rows(gw)
        assert [(r["key_name"], r["team"]) for r in rows] == [("static-2", "default")]
    finally:
        gw.close()


def test_an_admitted_request_that_fails_still_says_its_rate_limits_and_costs_nothing(fresh):
    fresh.gw.governance.set_team("ops", budget_usd=Decimal("1"), rpm=10)
    _, key = fresh.gw.governance.create_key(name="ops-key", team="ops")
    for emulator in fresh.gw.emulators.running().values():
        emulator.set_faults(status=503)
    r = post(fresh, key)
    assert r.status_code in (502, 503)
    assert (r.headers["x-ratelimit-limit-requests"], r.headers["x-ratelimit-remaining-requests"]) == ("10", "9")
    fresh.gw.governance.flush()
    assert fresh.gw.governance.burn_down("ops").spent_usd == 0  # released: nothing was billed


def test_readiness_fails_while_the_governance_storage_cannot_be_read(fresh):
    assert httpx.get(fresh.url + "/readyz").status_code == 200
    fresh.gw.governance.store.close()  # as if the database went away under it
    r = httpx.get(fresh.url + "/readyz")
    assert r.status_code == 503
    assert [reason["check"] for reason in r.json()["reasons"]] == ["governance"]
