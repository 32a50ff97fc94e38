"""Page helpers for the browser tests: wait on Streamlit's own run markers, navigate, check a page.

Streamlit marks its root element ``[data-testid="stApp"]`` with ``data-test-connection-state``
(``CONNECTED`` once the websocket is up) and ``data-test-script-state`` (``running`` while
a script run is in progress, ``notRunning`` when it has finished; the "Running..." status
widget shows in between). A fast run can go from one state to the other within a single
frame, so "the state changed" is not observable; instead every action names the change it
must cause (content only its run can draw), waits for that, then for the run to finish.
Elements whose code loads lazily (the chat input, charts) show ``stSkeleton`` until they
mount, so "idle" also means no skeleton left. Nothing here sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'
SKELETON = '[data-testid="stSkeleton"]'  # stands in for an element whose code is still loading
TIMEOUT_MS = 30_000
VIEWPORT_BLANK = (1380, 40)  # the empty top-right corner of the main area

# Text that only a leaked exception would put on a page.
LEAK_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"Unexpected error \("),
)


class Console:
    """One browser tab on the console; ``js_errors`` collects uncaught page errors."""

    def __init__(self, page: Page, server, screenshots: Path):
        self.page = page
        self.server = server
        self.screenshots = screenshots
        self.js_errors: list[str] = []
        page.on("pageerror", lambda err: self.js_errors.append(str(err)))

    # -- waiting ---------------------------------------------------------------------------

    def wait_idle(self, timeout: int = TIMEOUT_MS) -> None:
        """The script run has ended and every lazily loaded element has replaced its skeleton."""
        self.page.wait_for_selector(IDLE, state="attached", timeout=timeout)
        self.page.wait_for_selector(SKELETON, state="detached", timeout=timeout)

    def act(self, action: Callable[[], object], until: Callable[[], object], timeout: int = TIMEOUT_MS) -> None:
        """Do ``action`` (a click, a key press), wait for ``until`` (a Playwright ``expect`` on
        content only the resulting script run can draw), then for that run to end."""
        action()
        until()
        self.wait_idle(timeout)

    # -- navigation ------------------------------------------------------------------------

    def open(self, path: str = "", title: str = "Playground") -> None:
        """Load a page in this tab (a new Streamlit session) and wait until its first run ended."""
        self.page.goto(f"{self.server.url}/{path}")
        expect(self.heading(title)).to_be_visible()
        self.wait_idle()

    def nav(self, title: str) -> None:
        """Switch page through the sidebar, keeping this browser session's state."""
        link = self.sidebar().get_by_role("link", name=title, exact=True)
        self.act(link.click, until=lambda: expect(self.heading(title)).to_be_visible())

    def ask(self, prompt: str) -> Locator:
        """Send ``prompt`` from the Playground's chat input; returns the assistant's reply once
        its run has ended."""
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(prompt)
        messages = self.page.get_by_test_id("stChatMessage")
        before = messages.count()
        self.act(lambda: box.press("Enter"), until=lambda: expect(messages).to_have_count(before + 2))
        return messages.nth(before + 1)

    # -- reading ---------------------------------------------------------------------------

    def heading(self, text: str) -> Locator:
        return self.page.get_by_test_id("stHeading").filter(has_text=re.compile(rf"^\W*{re.escape(text)}\W*$"))

    def sidebar(self) -> Locator:
        return self.page.get_by_test_id("stSidebar")

    def main(self) -> Locator:
        return self.page.get_by_test_id("stMainBlockContainer")

    def metric(self, label: str) -> Locator:
        """The value element of the ``st.metric`` labelled ``label``."""
        box = self.page.get_by_test_id("stMetric").filter(
            has=self.page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
        )
        return box.get_by_test_id("stMetricValue")

    def metric_value(self, label: str) -> str:
        return self.metric(label).inner_text().strip()

    def button(self, name: str) -> Locator:
        return self.main().get_by_role("button", name=re.compile(rf"\b{re.escape(name)}$"))

    # -- checks ----------------------------------------------------------------------------

    def assert_clean(self) -> None:
        """No exception box, no error alert, no traceback text, no secret, no JS crash."""
        expect(self.page.get_by_test_id("stException")).to_have_count(0)
        expect(self.page.get_by_test_id("stAlertContentError")).to_have_count(0)
        text = self.page.inner_text("body")
        for pattern in LEAK_PATTERNS:
            assert not pattern.search(text), f"{pattern.pattern!r} on the page:\n{text[:2000]}"
        html = self.page.content()
        assert self.server.secret not in html, "the planted secret reached the page"
        assert self.server.secret not in self.server.log_text(), "the planted secret reached the server output"
        assert not self.js_errors, self.js_errors

    # -- screenshots -----------------------------------------------------------------------

    def scroll_to_top_of(self, locator: Locator, margin_px: int = 16) -> None:
        """Scroll the main area so ``locator`` starts ``margin_px`` below the viewport's top edge."""
        locator.first.evaluate(
            """(el, margin) => {
                 const main = document.querySelector('[data-testid="stMain"]');
                 main.scrollBy(0, el.getBoundingClientRect().top - margin);
               }""",
            margin_px,
        )

    def in_viewport(self, locator: Locator) -> bool:
        """Whether ``locator`` is entirely inside the visible window."""
        return locator.first.evaluate(
            "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
        )

    def screenshot(self, name: str) -> Path:
        """The full 1400x900 viewport as the operator sees it, without transient toasts."""
        self.page.mouse.move(VIEWPORT_BLANK[0], VIEWPORT_BLANK[1])  # no hover state or tooltip in the picture
        self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        toasts = self.page.get_by_test_id("stToast")
        for i in reversed(range(toasts.count())):
            toasts.nth(i).get_by_role("button").click()
        expect(toasts).to_have_count(0)
        self.wait_idle()
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
        return path
