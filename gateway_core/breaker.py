"""Per-(provider, model) circuit breaker: stop sending traffic to a candidate that keeps failing.

States and moves::

    closed ──(N consecutive failures, or failure ratio ≥ r over the last W calls
              once at least M are recorded)──▶ open
    open ──(cooldown elapsed; the next allow() is the probe)──▶ half_open
    half_open ──probe succeeds──▶ closed        half_open ──probe fails──▶ open

Only retryable failures count: a user's bad request or a content filter says nothing
about the provider's health, so ``record_failure(key, retryable=False)`` is ignored (it
only frees the probe slot if it was the probe). A probe that never reports back is given
up after one more cooldown, so a crashed caller cannot wedge a key in half-open. The
clock is injected so tests drive time by hand; every method takes one lock and does O(1)
work.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
MAX_TRANSITIONS = 1000


@dataclass
class _Entry:
    state: str = CLOSED
    consecutive: int = 0
    window: deque = field(default_factory=deque)
    failures_in_window: int = 0
    opened_at: float = 0.0
    probe_at: float | None = None  # when the half-open probe was handed out


class CircuitBreaker:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        consecutive_failures: int = 5,
        failure_ratio: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        cooldown_s: float = 30.0,
    ):
        self.clock = clock
        self.consecutive_failures = consecutive_failures
        self.failure_ratio = failure_ratio
        self.window = window
        self.min_calls = min_calls
        self.cooldown_s = cooldown_s
        self.transitions: list[tuple[Hashable, str, str, float]] = []
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    # --- internals (lock held) ----------------------------------------------------------

    def _entry(self, key) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(window=deque(maxlen=self.window))
        return entry

    def _move(self, key, entry: _Entry, to: str, now: float) -> None:
        self.transitions.append((key, entry.state, to, now))
        if len(self.transitions) > MAX_TRANSITIONS:
            del self.transitions[: len(self.transitions) - MAX_TRANSITIONS]
        entry.state = to
        entry.probe_at = None
        if to == OPEN:
            entry.opened_at = now
        if to in (OPEN, CLOSED):
            # Each closed period is judged on its own calls, not on the outage before it.
            entry.consecutive = 0
            entry.window.clear()
            entry.failures_in_window = 0

    def _refresh(self, key, entry: _Entry, now: float) -> str:
        if entry.state == OPEN and now - entry.opened_at >= self.cooldown_s:
            self._move(key, entry, HALF_OPEN, now)
        return entry.state

    def _push(self, entry: _Entry, failed: bool) -> None:
        if len(entry.window) == entry.window.maxlen and entry.window[0]:
            entry.failures_in_window -= 1
        entry.window.append(failed)
        entry.failures_in_window += failed

    # --- public -------------------------------------------------------------------------

    def state(self, key) -> str:
        with self._lock:
            entry = self._entries.get(key)
            return CLOSED if entry is None else self._refresh(key, entry, self.clock())

    def snapshot(self) -> dict:
        """``{key: state}`` for every key seen, with cooldowns applied as of now."""
        with self._lock:
            now = self.clock()
            return {key: self._refresh(key, entry, now) for key, entry in self._entries.items()}

    def allow(self, key) -> bool:
        """May a call go to ``key`` now? In half-open exactly one caller gets True."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return True
            now = self.clock()
            state = self._refresh(key, entry, now)
            if state == CLOSED:
                return True
            if state == OPEN:
                return False
            if entry.probe_at is None or now - entry.probe_at >= self.cooldown_s:
                entry.probe_at = now
                return True
            return False

    def record_success(self, key) -> None:
        with self._lock:
            entry = self._entry(key)
            now = self.clock()
            if self._refresh(key, entry, now) == HALF_OPEN:
                self._move(key, entry, CLOSED, now)
                return
            entry.consecutive = 0
            self._push(entry, False)

    def record_failure(self, key, *, retryable: bool = True) -> None:
        with self._lock:
            entry = self._entry(key)
            now = self.clock()
            state = self._refresh(key, entry, now)
            if not retryable:
                entry.probe_at = None
                return
            if state == HALF_OPEN:
                self._move(key, entry, OPEN, now)
                return
            if state == OPEN:
                return
            entry.consecutive += 1
            self._push(entry, True)
            n = len(entry.window)
            if entry.consecutive >= self.consecutive_failures or (
                n >= self.min_calls and entry.failures_in_window / n >= self.failure_ratio
            ):
                self._move(key, entry, OPEN, now)

    def record(self, key, error: BaseException | None = None) -> None:
        """Record an outcome: ``None`` is a success; an error counts only if ``error.retryable``."""
        if error is None:
            self.record_success(key)
        else:
            self.record_failure(key, retryable=bool(getattr(error, "retryable", False)))
