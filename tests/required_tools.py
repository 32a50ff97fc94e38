"""What a test does when a system tool it drives (Chromium, Mono's compiler) is missing.

On a developer's machine the suite stays green and says, once, how to enable the tests;
under CI (``CI`` set to true, as ``.ci/run`` is run) the same absence fails the run,
because there a skipped suite would pass for a tested one. Pytest reports a skip at each
test's own line, so ``fold`` re-points these skips at one place and the summary prints one
line per missing tool instead of one per test.
"""

from __future__ import annotations

import os

import pytest

_ISSUED: set[str] = set()


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, how: str) -> None:
    """Skip the calling test outside CI, fail it under CI; ``how`` says how to enable it."""
    message = f"{what} not found: {how}"
    if under_ci():
        pytest.fail(f"{message} (required under CI)", pytrace=False)
    _ISSUED.add(message)
    pytest.skip(message)


def fold(report: pytest.TestReport) -> pytest.TestReport:
    """Point a skip issued by ``missing`` at this module, so the summary folds them into one line."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        if reason in _ISSUED:
            report.longrepr = (__file__, 1, reason)
    return report
