"""Console roles as a table: which claims make an admin, an operator or a viewer, and what each may use."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from console import launch
from console.auth import visible
from console.roles import ABILITIES, ADMIN, OPEN, OPERATOR, VIEWER, RoleRules, allows, identity_of, role_of, usable_keys

RULES = RoleRules.of(admins=["ada@example.com", "Gateway-Admins"], operators=["otto@example.com", "sre"], claim="groups")
COGNITO = RoleRules.of(admins=["admins"], operators=[], claim="cognito:groups")
IN = {"is_logged_in": True}


@pytest.mark.parametrize(
    ("claims", "rules", "role"),
    [
        ({}, RULES, None),  # nobody signed in
        ({"is_logged_in": False, "email": "ada@example.com"}, RULES, None),
        ({"is_logged_in": "true", "email": "ada@example.com"}, RULES, None),  # only a real True signs in
        (IN | {"email": "ada@example.com"}, RULES, ADMIN),
        (IN | {"email": "ADA@Example.com"}, RULES, ADMIN),  # addresses compare without case
        (IN | {"email": "ana@example.com", "groups": ["gateway-admins"]}, RULES, ADMIN),
        (IN | {"email": "otto@example.com"}, RULES, OPERATOR),
        (IN | {"email": "x@example.com", "groups": ["staff", "SRE"]}, RULES, OPERATOR),
        (IN | {"email": "otto@example.com", "groups": ["gateway-admins"]}, RULES, ADMIN),  # the highest role wins
        (IN | {"email": "x@example.com", "groups": "staff, sre"}, RULES, OPERATOR),  # one comma-separated string
        (IN | {"email": "x@example.com", "groups": ["staff"]}, RULES, VIEWER),
        (IN | {"name": "no email at all"}, RULES, VIEWER),
        (IN | {"email": "ada@example.com", "email_verified": False}, RULES, VIEWER),  # an unverified address proves nothing
        (IN | {"email": "ada@example.com", "email_verified": "false"}, RULES, VIEWER),
        (IN | {"email": "ada@example.com", "email_verified": True}, RULES, ADMIN),
        (IN | {"email": "x@example.com", "groups": [7, None, "sre"]}, RULES, OPERATOR),  # odd values are skipped
        (IN | {"email": "x@example.com", "groups": {"admins": True}}, RULES, VIEWER),  # a claim of the wrong shape
        (IN | {"email": "x@example.com", "cognito:groups": ["admins"]}, COGNITO, ADMIN),  # the claim is configurable
        (IN | {"email": "x@example.com", "groups": ["admins"]}, COGNITO, VIEWER),
        (IN | {"email": "ada@example.com"}, RoleRules(), VIEWER),  # nobody listed: everyone is a viewer
    ],
)
def test_role_of_claims(claims, rules, role):
    assert role_of(claims, rules) == role


@pytest.mark.parametrize(
    ("role", "ability", "allowed"),
    [
        (VIEWER, "playground", True),
        (VIEWER, "compare", True),
        (VIEWER, "analytics", True),
        (VIEWER, "requests", True),
        (VIEWER, "content", False),
        (VIEWER, "vote", False),
        (VIEWER, "providers", False),
        (VIEWER, "chaos", False),
        (VIEWER, "demo_data", False),
        (VIEWER, "governance", False),
        (OPERATOR, "content", True),
        (OPERATOR, "vote", True),
        (OPERATOR, "chaos", True),
        (OPERATOR, "demo_data", True),
        (OPERATOR, "providers", True),
        (OPERATOR, "governance", False),
        (OPERATOR, "keys", False),
        (OPERATOR, "budgets", False),
        (OPERATOR, "policies", False),
        (ADMIN, "governance", True),
        (ADMIN, "keys", True),
        (ADMIN, "policies", True),
        (ADMIN, "chaos", True),
        (ADMIN, "a-page-nobody-listed", True),
        (OPERATOR, "a-page-nobody-listed", False),  # unlisted means admins only
        (None, "playground", False),
        ("superuser", "playground", False),
    ],
)
def test_allows(role, ability, allowed):
    assert allows(role, ability) is allowed


def test_every_ability_needs_a_known_role():
    assert set(ABILITIES.values()) <= {VIEWER, OPERATOR, ADMIN}


def test_identity_names_the_person_and_what_requests_and_audit_record():
    who = identity_of(IN | {"email": "ada@example.com", "name": "Ada Lovelace"}, RULES)
    assert (who.role, who.name, who.email, who.signed_in) == (ADMIN, "Ada Lovelace", "ada@example.com", True)
    assert who.request_user == who.actor == "ada@example.com"
    nameless = identity_of(IN | {"sub": "1234"}, RULES)
    assert nameless.name == "1234" and nameless.email is None and nameless.actor == "1234"
    assert identity_of({"is_logged_in": False}, RULES) is None
    assert OPEN.role == ADMIN and not OPEN.signed_in and OPEN.request_user == "console"
    assert "no sign-in" in OPEN.actor


def _page(url_path: str):
    return SimpleNamespace(url_path=url_path)


def test_navigation_drops_pages_a_role_may_not_open_and_empty_sections():
    sections = {
        "Try": [_page(""), _page("compare")],
        "Observe": [_page("analytics"), _page("requests")],
        "Operate": [_page("providers"), _page("governance"), _page("policies")],
    }
    viewer = identity_of(IN | {"email": "x@example.com"}, RULES)
    shown = {s: [p.url_path for p in pages] for s, pages in visible(sections, viewer).items()}
    assert shown == {"Try": ["", "compare"], "Observe": ["analytics", "requests"]}
    operator = identity_of(IN | {"email": "otto@example.com"}, RULES)
    assert [p.url_path for p in visible(sections, operator)["Operate"]] == ["providers"]
    assert [p.url_path for p in visible(sections, OPEN)["Operate"]] == ["providers", "governance", "policies"]


@pytest.mark.parametrize(
    ("address", "live", "sign_in", "open_to_all", "bound", "warned"),
    [
        ("localhost", True, False, False, "localhost", False),
        ("127.0.0.1", True, False, False, "127.0.0.1", False),
        ("::1", True, False, False, "::1", False),
        ("0.0.0.0", False, False, False, "0.0.0.0", False),  # the demo stays open
        ("0.0.0.0", True, True, False, "0.0.0.0", False),  # sign-in guards it
        ("0.0.0.0", True, False, False, "127.0.0.1", True),  # live without sign-in: loopback only
        ("10.1.2.3", True, False, False, "127.0.0.1", True),
        ("console.internal", True, False, False, "127.0.0.1", True),
        ("0.0.0.0", True, False, True, "0.0.0.0", True),  # said in so many words, and still warned
    ],
)
def test_console_exposure(address, live, sign_in, open_to_all, bound, warned):
    chosen, note = launch.exposure(address, live=live, sign_in=sign_in, open_to_all=open_to_all)
    assert chosen == bound
    assert (note is not None) is warned


def test_sign_in_is_found_in_streamlit_secrets_files(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text('[connections]\nurl = "x"\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("[auth\n")
    with_auth = tmp_path / "secrets.toml"
    with_auth.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    kube = tmp_path / "mounted"
    (kube / "auth").mkdir(parents=True)
    assert not launch.sign_in_configured([tmp_path / "missing.toml", plain, broken])
    assert launch.sign_in_configured([plain, with_auth])
    assert launch.sign_in_configured([kube])


LIVE = {
    "GATEWAY_MODE": "live",
    "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com",
    "AZURE_OPENAI_API_KEY": "launch-test-key",
    "AWS_PROFILE": "launch-test",
}


def _bound_address(tmp_path, extra_env: dict) -> tuple[str, str]:
    """What ``gateway console --host 0.0.0.0`` would bind, started as a fresh process in ``tmp_path``."""
    code = "from console.launch import _safe_address, streamlit_args; print(streamlit_args(['--host', '0.0.0.0'], guard=_safe_address)[3])"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **LIVE, **extra_env}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_gateway_console_keeps_live_providers_on_loopback_until_sign_in_or_open_says_otherwise(tmp_path):
    address, warning = _bound_address(tmp_path, {})
    assert address == "--server.address=127.0.0.1"
    assert "GATEWAY_CONSOLE_OPEN=true" in warning
    address, warning = _bound_address(tmp_path, {"GATEWAY_CONSOLE_OPEN": "true"})
    assert address == "--server.address=0.0.0.0" and "anyone who reaches it is an admin" in warning
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    address, warning = _bound_address(tmp_path, {})
    assert address == "--server.address=0.0.0.0" and warning == ""


def test_the_shipped_secrets_example_configures_both_providers():
    import tomllib

    from console.auth import providers

    example = launch.PACKAGE.parent / ".streamlit" / "secrets.toml.example"
    auth = tomllib.loads(example.read_text())["auth"]
    assert {"redirect_uri", "cookie_secret"} <= set(auth) and auth["redirect_uri"].endswith("/oauth2callback")
    assert providers(auth) == ["entra", "cognito"]
    for name in ("entra", "cognito"):
        assert {"client_id", "client_secret", "server_metadata_url"} <= set(auth[name])
        assert auth[name]["server_metadata_url"].endswith("/.well-known/openid-configuration")
    assert launch.sign_in_configured([example])


def _key(name: str, team: str, user: str | None = None, revoked: bool = False):
    return SimpleNamespace(name=name, team=team, user=user, state=lambda now: "revoked" if revoked else "active")


KEYS = [
    _key("vera-notebook", "research", user="Vera@Example.com"),
    _key("staff-shared", "staff"),
    _key("ops-pager", "gateway-ops"),
    _key("old-staff", "staff", revoked=True),
    _key("other", "finance", user="someone@example.com"),
]


@pytest.mark.parametrize(
    ("claims", "usable"),
    [
        (IN | {"email": "vera@example.com", "groups": ["staff"]}, ["vera-notebook", "staff-shared"]),
        (IN | {"email": "vera@example.com", "email_verified": False, "groups": ["staff"]}, ["staff-shared"]),
        (IN | {"email": "x@example.com", "groups": ["STAFF", "gateway-ops"]}, ["staff-shared", "ops-pager"]),
        (IN | {"email": "x@example.com"}, []),
        (IN | {"email": "ada@example.com"}, ["vera-notebook", "staff-shared", "ops-pager", "other"]),  # an admin: any active key
    ],
)
def test_usable_keys(claims, usable):
    who = identity_of(claims, RULES)
    assert usable_keys(who, KEYS, now=0.0) == usable


def test_without_sign_in_everyone_may_use_every_active_key():
    assert usable_keys(OPEN, KEYS, now=0.0) == ["vera-notebook", "staff-shared", "ops-pager", "other"]
