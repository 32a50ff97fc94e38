"""Signing in to the console in a real browser, through a real OIDC redirect flow, as each role.

The console runs with an ``[auth]`` section pointing at a loopback OpenID Connect provider
(``oidc_provider``) that approves whichever test user the test chose. Each sign-in goes
console → /auth/login → the provider's authorize endpoint → /oauth2callback (code exchanged
for a signed id_token, checked by Authlib) → the console, in a fresh browser context. The
scenarios check that a visitor sees only the sign-in page, that each role gets its pages and
no other, that a created API key is shown once and then nowhere, and they rewrite the
per-role screenshots.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from gateway_core.governance import AuditLog, Governance

from .conftest import SCREENSHOTS, VIEWPORT
from .console_server import ConsoleServer
from .driver import Console
from .oidc_provider import OIDCProvider

pytestmark = pytest.mark.e2e

VIEWER = {"email": "vera@example.com", "email_verified": True, "name": "Vera Viewer", "groups": ["staff"]}
OPERATOR = {"email": "otto@example.com", "email_verified": True, "name": "Otto Operator", "groups": ["staff", "gateway-ops"]}
ADMIN = {"email": "ada@example.com", "email_verified": True, "name": "Ada Admin", "groups": ["staff", "platform"]}
ALL_PAGES = ["Playground", "Compare", "Analytics", "Requests", "Providers", "Governance", "Policies"]


class SignInConsole(ConsoleServer):
    """The console with sign-in configured against ``idp``; Ada is an admin by address, the
    gateway-ops group are operators."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.idp = OIDCProvider("gateway-console", "e2e-client-secret", f"{self.url}/oauth2callback")

    def env(self) -> dict[str, str]:
        return super().env() | {"GATEWAY_CONSOLE_ADMINS": "ada@example.com", "GATEWAY_CONSOLE_OPERATORS": "gateway-ops"}

    def start(self) -> SignInConsole:
        self.idp.start()
        (self.workdir / ".streamlit").mkdir(parents=True, exist_ok=True)
        (self.workdir / ".streamlit" / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "{self.url}/oauth2callback"\n'
            'cookie_secret = "e2e-cookie-secret-long-enough-to-sign"\n'
            f'client_id = "{self.idp.client_id}"\n'
            f'client_secret = "{self.idp.client_secret}"\n'
            f'server_metadata_url = "{self.idp.metadata_url}"\n'
        )
        return super().start()

    def stop(self) -> None:
        super().stop()
        self.idp.stop()


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory):
    server = SignInConsole(tmp_path_factory.mktemp("signin")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tab(browser, signin_server):
    """A fresh browser context: no cookie, so nobody is signed in yet."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(30_000)
    try:
        yield Console(context.new_page(), signin_server, SCREENSHOTS)
    finally:
        context.close()


def sign_in(console: Console, person: dict) -> None:
    """Through the sign-in page, the provider's redirect flow, and back to the Playground."""
    console.server.idp.user = dict(person)
    console.open("", "GenAI Cloud Gateway")
    console.page.get_by_role("button", name="Sign in").click()
    expect(console.heading("Playground")).to_be_visible()
    console.wait_idle()
    assert console.server.idp.sign_ins[-1] == person["email"]


def offered_pages(console: Console) -> list[str]:
    links = console.sidebar().get_by_test_id("stSidebarNavLink")
    # Each link reads "<icon name>\n\n<title>": the icon font draws the name as a glyph.
    return [links.nth(i).inner_text().strip().split("\n")[-1] for i in range(links.count())]


def test_a_visitor_sees_only_the_sign_in_page(tab):
    tab.open("", "GenAI Cloud Gateway")
    expect(tab.page.get_by_role("button", name="Sign in")).to_be_visible()
    assert offered_pages(tab) == []
    expect(tab.page.get_by_test_id("stSidebar")).to_have_count(0)
    body = tab.page.inner_text("body")
    assert "Usage log" not in body and "Playground" not in body
    tab.assert_clean()
    tab.screenshot("signin")
    tab.page.goto(f"{tab.server.url}/governance")  # a page's address does not get past sign-in
    expect(tab.heading("GenAI Cloud Gateway")).to_be_visible()
    tab.wait_idle()
    expect(tab.page.get_by_role("dialog")).to_contain_text("Page not found")
    assert "Governance" not in tab.main().inner_text()


def gateway_cli(db, *argv: str) -> None:
    """The real ``gateway`` command on the console's database."""
    env = {"GATEWAY_DB_PATH": str(db), "GATEWAY_MODE": "demo", "PATH": ""}
    done = subprocess.run([sys.executable, "-m", "gateway_core.cli", *argv], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_viewer_signs_in_asks_and_cannot_reach_operator_or_admin_pages(tab):
    gateway_cli(
        tab.server.db_path, "keys", "create", "--name", "vera-notebook", "--team", "research", "--user", "vera@example.com"
    )
    sign_in(tab, VIEWER)
    assert offered_pages(tab) == ["Playground", "Compare", "Analytics", "Requests"]
    expect(tab.sidebar()).to_contain_text("Signed in as Vera Viewer (vera@example.com)")
    expect(tab.sidebar()).to_contain_text("viewer")
    reply = tab.ask("How do budgets keep a team's spend in check?")
    expect(reply.locator(".stMarkdownBadge").first).to_have_text(re.compile(r"·"))
    tab.assert_clean()
    tab.screenshot("console-viewer")
    tab.nav("Requests")  # the page takes this process's newest rows before it lists them
    expect(tab.main()).to_contain_text("vera@example.com / chat")
    with sqlite3.connect(tab.server.db_path) as conn:
        rows = conn.execute('SELECT DISTINCT "user", key_name, team FROM usage_logs').fetchall()
    assert rows == [("vera@example.com", "vera-notebook", "research")]  # her own key, the first offered
    for path in ("governance", "providers"):
        tab.page.goto(f"{tab.server.url}/{path}")
        expect(tab.heading("Playground")).to_be_visible()  # not offered, so the console lands on its default page
        tab.wait_idle()
        expect(tab.heading(path.title())).to_have_count(0)
        dialog = tab.page.get_by_role("dialog")
        expect(dialog).to_contain_text("Page not found")
        tab.page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
    tab.page.get_by_role("button", name="Sign out").click()
    expect(tab.heading("GenAI Cloud Gateway")).to_be_visible()
    tab.wait_idle()
    assert offered_pages(tab) == []


def test_an_operator_gets_chaos_and_an_audited_fault(tab):
    sign_in(tab, OPERATOR)
    assert offered_pages(tab) == ALL_PAGES[:5]
    tab.nav("Providers")
    preset = "AWS Bedrock 503 30%"
    tab.act(
        tab.button(preset).click,
        until=lambda: expect(tab.main()).to_contain_text("AWS Bedrock: HTTP 503 on 30% of calls"),
    )
    tab.assert_clean()
    chaos = tab.heading("Chaos")
    tab.scroll_to_top_of(chaos, margin_px=24)
    tab.screenshot("console-operator")
    entry = AuditLog(tab.server.db_path).entries()[0]
    assert (entry.actor, entry.role, entry.action, entry.target) == (
        "otto@example.com",
        "operator",
        "faults.injected",
        "AWS Bedrock",
    )
    tab.act(tab.button("Clear all").click, until=lambda: expect(tab.main()).to_contain_text("AWS Bedrock: no faults injected"))


def _seed_governance(db) -> None:
    """Keys from the real CLI, then spend settled on team budgets as admitted requests would."""
    for argv in (
        ["teams", "set", "research", "--budget-usd", "500", "--budget-period", "month"],
        ["teams", "set", "support", "--budget-usd", "120", "--budget-period", "week", "--soft", "0.8"],
        ["teams", "set", "marketing", "--budget-usd", "40", "--budget-period", "day"],
        ["keys", "create", "--name", "research-notebooks", "--team", "research", "--rpm", "120"],
        ["keys", "create", "--name", "support-bot", "--team", "support", "--tpm", "200000", "--budget-usd", "50"],
        ["keys", "create", "--name", "campaign-drafts", "--team", "marketing", "--models", "gpt-4o-mini"],
        ["keys", "create", "--name", "support-triage", "--team", "support"],
    ):
        gateway_cli(db, *argv)
    spend = (
        ("research-notebooks", "311.40"),
        ("support-bot", "41.75"),  # 84% of the key's own $50
        ("support-triage", "61.10"),  # with the bot's, 86% of the team's $120
        ("campaign-drafts", "9.80"),
    )
    with Governance.open(db) as gov:
        for key, usd in spend:
            admission = gov.admit(gov.principal_for(key), candidates_worst_case=Decimal(usd), tokens=0)
            gov.settle(admission, Decimal(usd))


def test_an_admin_governs_keys_and_budgets_and_a_new_key_is_shown_once(tab):
    _seed_governance(tab.server.db_path)
    sign_in(tab, ADMIN)
    assert offered_pages(tab) == ALL_PAGES
    tab.nav("Governance")
    expect(tab.main()).to_contain_text("at or past the soft limit")
    charts = tab.main().get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(4)  # three teams and the support bot's own budget
    tab.assert_clean()
    tab.screenshot("console-admin")

    tab.main().get_by_text("Create a key").click()
    tab.page.get_by_label("Name", exact=True).fill("e2e-ci")
    tab.page.get_by_label("Team", exact=True).fill("research")
    code = tab.main().get_by_test_id("stCode")
    tab.act(tab.button("Create key").click, until=lambda: expect(code).to_have_count(1))
    key = code.inner_text().strip()
    assert key.startswith("gwk_")
    with Governance.open(tab.server.db_path) as gov:
        assert gov.authenticate(key).key_name == "e2e-ci"

    # Streamlit's "r" shortcut reruns this session's script: the page is drawn again, without the key.
    tab.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab.act(lambda: tab.page.keyboard.press("r"), until=lambda: expect(code).to_have_count(0))
    assert key not in tab.page.content()
    tab.page.reload()
    expect(tab.heading("Governance")).to_be_visible()
    tab.wait_idle()
    assert key not in tab.page.content()
    assert key not in tab.server.log_text()
    db_bytes = b"".join(p.read_bytes() for p in tab.server.db_path.parent.glob(tab.server.db_name + "*") if p.is_file())
    assert key.encode() not in db_bytes
    created = AuditLog(tab.server.db_path).entries()[0]
    assert (created.action, created.target, created.actor) == ("key.created", "e2e-ci", "ada@example.com")
    tab.assert_clean()
    tab.scroll_to_top_of(tab.heading("Keys"), margin_px=24)
    tab.screenshot("governance")
