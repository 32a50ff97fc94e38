"""Ending reservations off the request path: settles and releases are queued, then applied in batches.

A request's ``settle`` or ``release`` only appends ``(reservation id, actual cost)`` to
this queue; a background thread applies what has gathered every ``FLUSH_DELAY_S``, in one
transaction. Until applied, a reservation stays held at its worst case, which can only
make a budget stricter, never looser, and an admission refused by a budget while ends
are queued applies them in its own transaction and decides again, so no request is
refused for money an earlier one already gave back. If the process dies with ends still
queued, their reservations expire and are charged at their worst case (see ``store``),
so a crash can make a budget undercount nothing.

The queue exists because a write transaction is most of what governance costs a request:
one per request (the admission) instead of two halves that cost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

FLUSH_DELAY_S = 0.05
RETRY_DELAY_S = 1.0
End = tuple[str, int]  # reservation id, actual cost in quanta

log = logging.getLogger(__name__)


class SettleQueue:
    def __init__(self, apply: Callable[[list[End]], object], delay_s: float = FLUSH_DELAY_S):
        self._apply = apply
        self._delay_s = delay_s
        self._items: list[End] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._signalled = False  # the thread is already woken for what is queued
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, end: End) -> None:
        with self._lock:
            self._items.append(end)
            if self._signalled:
                return  # setting the event again would cost more than the append
            self._signalled = True
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="governance-settle", daemon=True)
                self._thread.start()
        self._wake.set()

    def take(self) -> list[End]:
        """Everything queued, now the caller's to apply (or to ``give_back``)."""
        with self._lock:
            items, self._items = self._items, []
        return items

    def give_back(self, items: list[End]) -> None:
        if items:
            with self._lock:
                self._items[:0] = items
                self._signalled = True
            self._wake.set()

    def flush(self) -> None:
        """Apply everything queued now, on the calling thread."""
        with self._flush_lock:
            items = self.take()
            if not items:
                return
            try:
                self._apply(items)
            except BaseException:
                self.give_back(items)
                raise

    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    def close(self) -> None:
        """Stop the background thread and apply what is left."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            if not self._closed:
                time.sleep(self._delay_s)  # let a burst gather
            with self._lock:
                self._signalled = False
                self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the ends are back in the queue; a locked database passes
                log.exception("could not apply settled reservations; retrying")
                time.sleep(RETRY_DELAY_S)
