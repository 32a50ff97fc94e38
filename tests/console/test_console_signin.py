"""Console sign-in through AppTest: a visitor, a viewer, an operator and an admin, each seeded as ``at.user``.

The ``[auth]`` secrets only tell the console that sign-in is configured: AppTest never
redirects to a provider (the browser test does that). Roles come from the same settings a
deployment uses: Ada is an admin by e-mail address, Otto an operator by group.
"""

from __future__ import annotations

import sqlite3

import pytest
from console_support import APP, ROOT, assert_clean, markdown_text
from streamlit.testing.v1 import AppTest

from gateway_core.governance import AuditLog, Governance

AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret-of-enough-length",
        "client_id": "gateway-console",
        "client_secret": "not-used-by-apptest",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
}
VISITOR = {"is_logged_in": False}
VIEWER = {"is_logged_in": True, "email": "vera@example.com", "name": "Vera Viewer", "groups": ["staff"]}
OPERATOR = {"is_logged_in": True, "email": "otto@example.com", "name": "Otto Operator", "groups": ["staff", "gateway-ops"]}
ADMIN = {"is_logged_in": True, "email": "ada@example.com", "name": "Ada Admin", "groups": ["staff"]}
PAGES = ("playground", "compare", "analytics", "requests", "providers", "governance", "policies")


@pytest.fixture
def signin_env(console_env, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONSOLE_ADMINS", "ada@example.com")
    monkeypatch.setenv("GATEWAY_CONSOLE_OPERATORS", "gateway-ops")
    return console_env


def console_as(person: dict, script=APP) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=60)
    at.secrets = AUTH
    at.user = dict(person)
    at.run()
    assert_clean(at)
    return at


def reachable(at: AppTest) -> list[str]:
    """The pages the navigation offers: AppTest refuses to switch to any other."""
    out = []
    for page in PAGES:
        try:
            at.switch_page(f"../pages/{page}.py")
        except ValueError:
            continue
        out.append(page)
    return out


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"../pages/{page}.py").run()
    assert_clean(at)
    return at


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.sidebar if hasattr(e, "value"))


def test_a_visitor_who_has_not_signed_in_sees_only_the_sign_in_page(signin_env):
    at = console_as(VISITOR)
    assert [t.value for t in at.title] == ["GenAI Cloud Gateway"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert reachable(at) == []
    assert not at.warning  # no open-console banner: sign-in is configured
    assert "Usage log" not in sidebar_text(at) and str(signin_env) not in markdown_text(at) + sidebar_text(at)


def test_named_providers_get_one_button_each(signin_env):
    at = AppTest.from_file(str(APP), default_timeout=60)
    shared = {k: AUTH["auth"][k] for k in ("redirect_uri", "cookie_secret")}
    provider = {k: AUTH["auth"][k] for k in ("client_id", "client_secret", "server_metadata_url")}
    at.secrets = {"auth": shared | {"entra": provider, "cognito": provider}}
    at.user = dict(VISITOR)
    at.run()
    assert [b.label for b in at.button] == ["Sign in with Entra", "Sign in with Cognito"]


@pytest.mark.parametrize(
    ("person", "role", "pages"),
    [
        (VIEWER, "viewer", ["playground", "compare", "analytics", "requests"]),
        (OPERATOR, "operator", ["playground", "compare", "analytics", "requests", "providers"]),
        (ADMIN, "admin", list(PAGES)),
    ],
)
def test_each_role_is_offered_its_pages_and_the_sidebar_says_who_is_signed_in(signin_env, person, role, pages):
    at = console_as(person)
    assert [t.value for t in at.title] == ["Playground"]
    assert reachable(at) == pages
    sidebar = sidebar_text(at)
    assert f"Signed in as **{person['name']}** ({person['email']})" in sidebar
    assert f"badge: {role}]" in sidebar
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    assert not at.warning


@pytest.mark.parametrize(
    ("person", "page", "refusal"),
    [
        (VIEWER, "governance", "This page is for admins; you are signed in as a viewer."),
        (OPERATOR, "governance", "This page is for admins; you are signed in as an operator."),
        (VIEWER, "providers", "This page is for operators and admins; you are signed in as a viewer."),
    ],
)
def test_a_page_reached_directly_refuses_a_role_it_is_not_for(signin_env, person, page, refusal):
    at = console_as(person, ROOT / "pages" / f"{page}.py")
    assert [e.value for e in at.error] == [refusal]
    assert not at.title and not at.button and not at.text_input and not at.dataframe


def test_a_page_reached_directly_without_signing_in_asks_for_sign_in(signin_env):
    at = console_as(VISITOR, ROOT / "pages" / "requests.py")
    assert [i.value for i in at.info] == ["Sign in to use the operator console."]
    assert not at.title and not at.expander


def test_requests_from_the_console_carry_the_signed_in_email(signin_env):
    at = console_as(VIEWER)
    at.chat_input[0].set_value("Who is asking?").run()
    assert_clean(at)
    at = visit(at, "compare")
    at.text_area(key="cmp_prompt").input("And here?")
    at.button[0].click().run()
    assert_clean(at)
    visit(at, "requests")  # the Requests page waits for the log to take this session's rows
    with sqlite3.connect(signin_env) as conn:
        users = {u for (u,) in conn.execute('SELECT DISTINCT "user" FROM usage_logs')}
    assert users == {"vera@example.com"}


def test_a_viewer_compares_but_only_an_operator_votes(signin_env):
    for person, votes in ((VIEWER, False), (OPERATOR, True)):
        at = visit(console_as(person), "compare")
        at.text_area(key="cmp_prompt").input("Explain retries in one sentence.")
        at.button[0].click().run()
        assert_clean(at)
        assert bool([b for b in at.button if (b.key or "").startswith("cmp_vote_")]) is votes
        if votes:
            at.button(key="cmp_vote_tie").click().run()
    with sqlite3.connect(signin_env) as conn:
        assert conn.execute('SELECT verdict, "user" FROM ab_votes').fetchall() == [("tie", "otto@example.com")]


def test_only_operators_are_offered_demo_history_on_an_empty_log(signin_env):
    assert not [b for b in visit(console_as(VIEWER), "analytics").button if b.key == "an_seed"]
    at = visit(console_as(OPERATOR), "analytics")
    at.button(key="an_seed").click().run()
    assert_clean(at)
    entry = AuditLog(signin_env).entries()[0]
    assert (entry.action, entry.actor, entry.role, entry.source) == ("demo.loaded", "otto@example.com", "operator", "console")


def test_an_operators_fault_injection_is_audited_under_their_name(signin_env):
    at = visit(console_as(OPERATOR), "providers")
    assert not [b for b in at.button if b.label.startswith("Create")]
    at.button(key="chaos_Azure OpenAI throttled 100%").click().run()
    at.button(key="chaos_Clear all").click().run()
    assert_clean(at)
    cleared, injected = AuditLog(signin_env).entries()
    assert (injected.action, injected.target, injected.detail) == (
        "faults.injected",
        "Azure OpenAI",
        {"preset": "Azure OpenAI throttled 100%"},
    )
    assert cleared.action == "faults.cleared" and {injected.actor, cleared.actor} == {"otto@example.com"}


def test_without_sign_in_configured_the_console_is_open_with_one_banner(console_env):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = dict(ADMIN)  # ignored: nothing says sign-in is configured
    at.run()
    assert [w.value for w in at.warning] == ["No sign-in configured: anyone who can reach this port is an admin."]
    assert reachable(at) == list(PAGES)
    assert "No sign-in" in sidebar_text(at) and "Sign out" not in [b.label for b in at.sidebar.button]


def _open_request(at: AppTest, db) -> AppTest:
    with sqlite3.connect(db) as conn:
        (request_id,) = conn.execute("SELECT request_id FROM usage_logs").fetchone()
    at.session_state[f"rq_open_{request_id}"] = True  # as a click on the expander does
    at.run()
    assert_clean(at)
    return at


def test_a_viewer_reads_requests_without_their_prompt_and_answer(signin_env, monkeypatch):
    monkeypatch.setenv("GATEWAY_STORE_CONTENT", "true")
    at = console_as(OPERATOR)
    at.chat_input[0].set_value("the marigold plan").run()
    seen = {}
    for name, person in (("viewer", VIEWER), ("operator", OPERATOR)):
        at = _open_request(visit(console_as(person), "requests"), signin_env)
        seen[name] = markdown_text(at) + "\n".join(c.value for c in at.caption)
        at.text_input(key="rq_search").input("marigold").run()
        seen[name + " search"] = len(at.expander)
    assert "marigold" in seen["operator"] and "**Prompt (masked)**" in seen["operator"]
    assert "marigold" not in seen["viewer"] and "Prompt and answer text are shown to operators and admins." in seen["viewer"]
    assert (seen["operator search"], seen["viewer search"]) == (1, 0)  # searching text would reveal it too


def _keys(db) -> None:
    with Governance.open(db) as gov:
        gov.create_key(name="vera-notebook", team="research", user="vera@example.com")
        gov.create_key(name="staff-shared", team="staff")
        gov.create_key(name="finance-batch", team="finance")
        gov.create_key(name="staff-retired", team="staff")
        gov.revoke_key("staff-retired", "rotated")


def test_the_playground_offers_only_the_keys_a_person_may_use_and_runs_under_the_choice(signin_env):
    _keys(signin_env)
    at = console_as(VIEWER)
    picker = at.sidebar.selectbox(key="pg_run_as")
    assert picker.options == ["staff-shared · team staff", "vera-notebook · team research", "default team (no key)"]
    picker.set_value("staff-shared").run()
    at.chat_input[0].set_value("Under whose budget?").run()
    assert_clean(at)
    at.sidebar.selectbox(key="pg_run_as").select_index(2).run()  # no key
    at.chat_input[0].set_value("And now?").run()
    assert_clean(at)
    visit(at, "requests")  # the Requests page waits for the log to take this session's rows
    with sqlite3.connect(signin_env) as conn:
        rows = conn.execute('SELECT "user", key_name, team FROM usage_logs ORDER BY id').fetchall()
    assert rows == [("vera@example.com", "staff-shared", "staff"), ("vera@example.com", None, "default")]
    admin = console_as(ADMIN).sidebar.selectbox(key="pg_run_as")
    assert [o.split(" · ")[0] for o in admin.options] == [
        "finance-batch",
        "staff-shared",
        "vera-notebook",
        "default team (no key)",
    ]


def test_a_budget_holds_for_requests_from_the_console(signin_env):
    _keys(signin_env)
    with Governance.open(signin_env) as gov:
        gov.set_team("staff", budget_usd=0)
    at = visit(console_as(VIEWER), "compare")
    at.sidebar.selectbox(key="cmp_run_as").set_value("staff-shared").run()
    at.text_area(key="cmp_prompt").input("Is there money left?")
    at.button[0].click().run()
    assert_clean(at)
    refusals = [e.value for e in at.error]
    assert len(refusals) == 2 and all("budget" in r for r in refusals), refusals
    with sqlite3.connect(signin_env) as conn:
        assert conn.execute("SELECT count(*) FROM usage_logs").fetchone() == (0,)  # no provider was called


def _refuse_someone_elses_key():
    import streamlit as st

    from console import auth
    from gateway_core.errors import ValidationError

    who = auth.require("playground")
    try:
        auth.key_for(who, "finance-batch")
    except ValidationError as e:
        st.error(f"{e.field}: {e.reason}")


def test_a_key_chosen_by_name_is_checked_again_when_the_request_is_sent(signin_env):
    _keys(signin_env)
    at = AppTest.from_function(_refuse_someone_elses_key, default_timeout=60)
    at.secrets = AUTH
    at.user = dict(VIEWER)
    at.run()
    assert [e.value for e in at.error] == ["key: 'finance-batch' is not an active key you may use"]
