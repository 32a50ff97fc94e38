"""Real-browser tests of the operator console (Chromium driven by Playwright)."""
