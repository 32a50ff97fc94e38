"""Sign-in at the console's edge: who is here, the sign-in page, and the checks pages make.

Streamlit does the OIDC work (``st.login`` / ``st.user`` / ``st.logout`` with Authlib, set
up by the ``[auth]`` section of ``.streamlit/secrets.toml``); ``roles`` turns the claims
into a role. Without an ``[auth]`` section the console is open and everyone is an admin,
which the app frame says in one banner.

Every page script starts with ``require("its ability")``: a page hidden from a role is
also refused when reached anyway (an old link, a script run directly). Controls ask
``can(who, "ability")`` before they are drawn, and a new page is gated in one line.
``record`` writes an admin or operator action to the audit log under the user's name.
``key_picker`` offers the API keys a person may run the Playground and Compare under (or
none: the default team, under its budget), and ``key_for`` checks the choice again when a
request is sent, because a key can be revoked or moved between the two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import streamlit as st

from console import state
from console.roles import OPEN, Identity, RoleRules, allows, identity_of, needed_role, usable_keys
from gateway_core.errors import ValidationError

log = logging.getLogger("console")
OPEN_BANNER = "No sign-in configured: anyone who can reach this port is an admin."
ROLE_COLORS = {"admin": "red", "operator": "orange", "viewer": "blue"}
AUDIENCE = {"viewer": "everyone signed in", "operator": "operators and admins", "admin": "admins"}


def auth_section() -> Mapping | None:
    """The ``[auth]`` section of the secrets, or None when sign-in is not configured."""
    if not st.secrets.load_if_toml_exists():
        return None
    section = st.secrets.get("auth")
    return section if isinstance(section, Mapping) and section else None


def providers(section: Mapping) -> list[str | None]:
    """The providers to offer: each named ``[auth.NAME]`` table, or None for the unnamed one."""
    named = [name for name, value in section.items() if isinstance(value, Mapping) and "client_id" in value]
    return named or [None]


def current() -> Identity | None:
    """Who is using this session: ``OPEN`` without sign-in, None when nobody has signed in."""
    if auth_section() is None:
        return OPEN
    return identity_of(st.user.to_dict(), RoleRules.from_settings(state.gateway().settings))


def _sign_in_page() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    box = middle.container(border=True)
    box.title("GenAI Cloud Gateway")
    box.markdown("Sign in with your organisation's account to use the operator console.")
    with box.container(horizontal=True):
        for provider in providers(auth_section() or {}):
            label = "Sign in" if provider is None else f"Sign in with {provider.replace('-', ' ').title()}"
            if st.button(label, key=f"sign_in_{provider or 'default'}", type="primary", icon=":material/login:"):
                st.login(provider)


def gate() -> Identity:
    """For the app frame: the identity, or (nobody signed in) the sign-in page alone, then stop."""
    who = current()
    if who is None:
        st.navigation([st.Page(_sign_in_page, title="Sign in", url_path="sign-in")], position="hidden").run()
        st.stop()
    return who


def _url_path(page) -> str | None:
    try:
        return page.url_path
    except AttributeError:  # built outside a Streamlit run (bare mode), where nothing is served
        return None


def visible(sections: dict[str, list], who: Identity) -> dict[str, list]:
    """The navigation ``sections`` without the pages ``who`` may not open (the default page is
    everyone's landing page); empty sections disappear."""
    out = {}
    for section, pages in sections.items():
        shown = [p for p in pages if (path := _url_path(p)) == "" or (path is not None and allows(who.role, path))]
        if shown:
            out[section] = shown
    return out


def sidebar_identity(who: Identity) -> None:
    with st.sidebar:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.badge(who.role, icon=":material/badge:", color=ROLE_COLORS.get(who.role, "gray"))
            if who.signed_in:
                st.caption(f"Signed in as **{who.name}**" + (f" ({who.email})" if who.email and who.email != who.name else ""))
            else:
                st.caption("No sign-in")
        if who.signed_in and st.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.logout()


def open_banner(who: Identity) -> None:
    if not who.signed_in:
        st.warning(OPEN_BANNER, icon=":material/lock_open:")


def require(ability: str) -> Identity:
    """First line of a page script: the identity, or a refusal and stop."""
    who = current()
    if who is None:
        st.info("Sign in to use the operator console.", icon=":material/login:")
        st.stop()
    if not allows(who.role, ability):
        log.warning("console: %s (%s) was refused %s", who.actor, who.role, ability)
        st.error(
            f"This page is for {AUDIENCE[needed_role(ability)]}; you are signed in as "
            f"{'an' if who.role[0] in 'aeiou' else 'a'} {who.role}.",
            icon=":material/block:",
        )
        st.stop()
    return who


def can(who: Identity, ability: str) -> bool:
    return allows(who.role, ability)


def record(who: Identity, action: str, target: str | None = None, detail: Mapping | None = None) -> None:
    """An admin or operator action in the audit log, under ``who``'s name and role."""
    state.audit_log().record(who.actor, action, target, detail, role=who.role)


def key_picker(who: Identity, prefix: str) -> str | None:
    """A sidebar choice of the API key requests run under; None runs them as the default team."""
    gov = state.governance()
    keys = gov.keys()
    teams = {k.name: k.team for k in keys}
    names = sorted(usable_keys(who, keys, gov.now()))
    return st.sidebar.selectbox(
        "Run as",
        [*names, None],
        key=f"{prefix}_run_as",
        format_func=lambda name: "default team (no key)" if name is None else f"{name} · team {teams[name]}",
        help="The API key whose budget and limits apply: the keys bound to you or to your teams.",
    )


def key_for(who: Identity, name: str | None) -> str | None:
    """``name`` if ``who`` may still run requests under it; a refusal naming the key otherwise."""
    if name is None:
        return None
    gov = state.governance()
    if name not in usable_keys(who, gov.keys(), gov.now()):
        raise ValidationError("key", f"'{name}' is not an active key you may use")
    return name
