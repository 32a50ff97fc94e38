"""Drain several gateway streams at once so a page can show them side by side.

Each stream is iterated in its own worker thread that only puts chunks on a queue; the
Streamlit script thread reads the queue and updates the page. Streamlit calls from worker
threads would have no script context, so the threads never touch Streamlit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

_CHUNK, _DONE, _FAILED = "chunk", "done", "failed"


class SideBySide:
    """``updates()`` yields the index of a stream whose text changed; afterwards ``texts``
    holds each stream's text and ``outcomes`` its ``GenerateResult`` or exception."""

    def __init__(self, streams: Sequence, poll_s: float = 0.05):
        self.streams = list(streams)
        self.texts = [""] * len(self.streams)
        self.outcomes: list = [None] * len(self.streams)
        self._poll_s = poll_s
        self._queue: queue.Queue = queue.Queue()

    def _work(self, i: int, stream) -> None:
        try:
            for chunk in stream:
                self._queue.put((i, _CHUNK, chunk))
            self._queue.put((i, _DONE, stream.result))
        except BaseException as e:  # noqa: BLE001 - handed to the script thread to show
            self._queue.put((i, _FAILED, e))

    def updates(self) -> Iterator[int]:
        for i, s in enumerate(self.streams):
            threading.Thread(target=self._work, args=(i, s), name=f"compare-{i}", daemon=True).start()
        pending = len(self.streams)
        while pending:
            try:
                i, kind, value = self._queue.get(timeout=self._poll_s)
            except queue.Empty:
                continue
            if kind == _CHUNK:
                self.texts[i] += value
            else:
                self.outcomes[i] = value
                pending -= 1
            yield i
