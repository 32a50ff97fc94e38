"""The admin REST API: keys, teams and budgets behind ``GATEWAY_ADMIN_KEY``, over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import openai
import pytest

from .governed import ADMIN, CHAT, client, new_key, post

# --- the admin API --------------------------------------------------------------------------


def test_admin_routes_need_the_admin_key_and_an_api_key_is_not_one(governed, admin):
    key = new_key(admin, "not-admin")
    for headers in ({}, {"Authorization": f"Bearer {key}"}, {"Authorization": "Bearer wrong-admin-key"}):
        r = httpx.get(governed.url + "/admin/keys", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    with client(governed, ADMIN) as sdk:  # nor is the admin key an API key
        with pytest.raises(openai.AuthenticationError):
            sdk.chat.completions.create(**CHAT)


def test_admin_routes_do_not_exist_without_an_admin_key(http):
    assert http.get("/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 404


def test_a_created_key_is_shown_once_and_listings_never_show_it(governed, admin):
    r = admin.post("/admin/keys", json={"name": "listed", "team": "web", "budget_usd": "5", "models": ["gpt-4o-mini"]})
    created = r.json()
    key = created.pop("key")
    assert key.startswith("gwk_" + created["key_id"] + "_")
    assert created["budget_usd"] == "5" and created["models"] == ["gpt-4o-mini"] and created["state"] == "active"
    listing = admin.get("/admin/keys")
    assert listing.status_code == 200
    entry = next(k for k in listing.json()["data"] if k["name"] == "listed")
    assert entry == {**created, "state": "active"}
    assert key not in listing.text and key.split("_", 2)[2] not in listing.text and "hash" not in listing.text


def test_teams_and_budgets_list_with_their_burn_down(governed, admin):
    r = admin.patch("/admin/teams/analytics", json={"budget_usd": "2.50", "budget_period": "week", "rpm": 600})
    assert r.status_code == 200
    team = r.json()
    assert (team["budget_usd"], team["budget_period"], team["rpm"]) == ("2.5", "week", 600)
    assert team["budget"]["spent_usd"] == "0"
    assert team["budget"]["resets_at"] == "2026-04-20T00:00:00Z"  # ISO weeks start on Monday
    key = new_key(admin, "analyst", team="analytics")
    assert post(governed, key).status_code == 200
    governed.gw.governance.flush()
    teams = {t["name"]: t for t in admin.get("/admin/teams").json()["data"]}
    assert Decimal(teams["analytics"]["budget"]["spent_usd"]) > 0
    budgets = {b["owner"]: b for b in admin.get("/admin/budgets").json()["data"]}
    assert budgets["team:analytics"]["limit_usd"] == "2.5"
    assert Decimal(budgets["team:analytics"]["forecast_usd"]) >= Decimal(budgets["team:analytics"]["spent_usd"])
    cleared = admin.patch("/admin/teams/analytics", json={"rpm": None}).json()
    assert cleared["rpm"] is None and cleared["budget_usd"] == "2.5"  # a field left out keeps its value


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/admin/keys", {"team": "web"}, 422, "name"),
        ("/admin/keys", {"name": "x"}, 422, "team"),
        ("/admin/keys", {"name": "bad name!", "team": "web"}, 422, "name"),
        ("/admin/keys", {"name": "k1", "team": "web", "budget_usd": "lots"}, 422, "budget_usd"),
        ("/admin/keys", {"name": "k2", "team": "web", "budget_usd": -1}, 422, "budget_usd"),
        ("/admin/keys", {"name": "k3", "team": "web", "rpm": 0}, 422, "rpm"),
        ("/admin/keys", {"name": "k4", "team": "web", "tpm": 1.5}, 422, "tpm"),
        ("/admin/keys", {"name": "k5", "team": "web", "budget_period": "year"}, 422, "budget_period"),
        ("/admin/keys", {"name": "k6", "team": "web", "models": "gpt-4o"}, 422, "models"),
        ("/admin/keys", {"name": "k7", "team": "web", "providers": ["nowhere"]}, 422, "providers"),
        ("/admin/keys", {"name": "k8", "team": "web", "expires_at": "tomorrow"}, 422, "expires_at"),
        ("/admin/keys", {"name": "k9", "team": "web", "expires_at": "2020-01-01"}, 422, "expires_at"),
        ("/admin/keys", {"name": "k10", "team": "web", "colour": "red"}, 422, "colour"),
        ("/admin/keys/nobody/revoke", {}, 422, "name"),
        ("/admin/keys/nobody/revoke", {"reason": 7}, 422, "reason"),
        ("/admin/teams/web", {"soft": 2}, 422, "soft"),
        ("/admin/teams/web", {"budget": 5}, 422, "budget"),
        ("/admin/teams/bad%20team", {"rpm": 5}, 422, "team"),
    ],
)
def test_malformed_admin_requests_get_a_4xx_naming_the_field(governed, admin, path, body, status, field):
    method = admin.patch if path.startswith("/admin/teams") else admin.post
    r = method(path, json=body)
    assert (r.status_code, r.json()["error"]["field"]) == (status, field)


def test_a_duplicate_key_name_and_bad_json_are_refused(governed, admin):
    new_key(admin, "twice")
    r = admin.post("/admin/keys", json={"name": "twice", "team": "web"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "name")
    r = admin.post("/admin/keys", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_json"


def test_every_admin_change_is_in_the_audit_log_without_the_key(governed, admin):
    from gateway_core.governance.audit_log import AuditLog

    key = new_key(admin, "audited", team="audit-team", rpm=5)
    admin.post("/admin/keys/audited/revoke", json={"reason": "rotation"})
    admin.patch("/admin/teams/audit-team", json={"budget_usd": "3"})
    entries = [e for e in AuditLog(governed.db).entries() if e.target in ("audited", "audit-team")]
    assert [(e.action, e.source, e.role) for e in entries] == [
        ("team.changed", "api", "admin"),
        ("key.revoked", "api", "admin"),
        ("key.created", "api", "admin"),
    ]
    assert entries[0].actor == "admin-key@127.0.0.1"
    assert entries[0].detail["budget_usd"][1] == "3"
    assert entries[1].detail["reason"] == "rotation"
    assert key.split("_", 2)[2] not in str([e.detail for e in entries])
