"""A large first load of the analytics mirror, run on its own thread and reporting how far it got.

Building the DuckDB mirror of a usage log from scratch costs about 20 µs a row, so tens of
seconds at a million rows. A console that waited for it would show a blank page for that
long, and every page that does not read analytics (the Playground, Governance) would wait
too. ``BackgroundLoad`` runs the load on a thread and keeps a ``LoadProgress`` that a page
can draw as a progress bar; ``Analytics`` starts one only when the rows to load pass a
threshold its caller chose, so small logs keep loading in line as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadProgress:
    """Rows copied into the mirror so far, of about ``rows_total`` (ids can have gaps)."""

    rows_loaded: int
    rows_total: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.rows_loaded / self.rows_total) if self.rows_total > 0 else 1.0

    def sentence(self) -> str:
        if self.rows_loaded >= self.rows_total:
            return f"Summarising {self.rows_total:,} logged attempts by day…"
        return f"Loading the usage log for analytics: {self.rows_loaded:,} of about {self.rows_total:,} rows"


class BackgroundLoad:
    """Run ``load(note)`` on a daemon thread; ``load`` calls ``note(rows so far)`` as it goes.

    A failure is kept in ``error`` and ends the load: the next query refreshes in line and
    meets the same problem where it can be reported."""

    def __init__(self, rows_total: int, load: Callable[[Callable[[int], None]], object]):
        self._progress = LoadProgress(0, rows_total)
        self._done = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(load,), name="analytics-first-load", daemon=True)
        self._thread.start()

    def _run(self, load) -> None:
        try:
            load(self._note)
        except Exception as exc:  # noqa: BLE001 - kept for the caller; a thread has nobody to raise to
            self.error = exc
        finally:
            self._done.set()

    def _note(self, rows_loaded: int) -> None:
        self._progress = LoadProgress(rows_loaded, max(rows_loaded, self._progress.rows_total))

    def progress(self) -> LoadProgress | None:
        """How far the load got, or None once it has finished."""
        return None if self._done.is_set() else self._progress

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)
