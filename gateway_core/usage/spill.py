"""Spill files: where usage rows wait, on disk, while the database cannot take them.

A spill directory holds append-only JSON Lines files, one line per row:
``{"table": "usage_logs", "row": {column: value, ...}}``, so every row carries its own key
(``(request_id, attempt)``; a ``rejected_requests`` row, its ``request_id``). Each writer process appends to a file of its own, named
``spill-<UTC time>-<pid>-<random>.jsonl`` so that names sort in the order the files were
started, and holds an exclusive ``flock`` on it while it may still append. A batch is
appended with one ``write`` and made durable with one ``fsync`` (the directory is synced
when a file is created); a batch that fails half-way is cut back off the file, so a file
only ever holds whole batches. A file nobody holds a lock on is *sealed*: any process may
replay it, after taking the same lock, so two processes never replay one file at once and
nobody replays a file that is still growing; a crashed process's lock goes with it.
Replay reads a file in order, hands its rows to ``commit`` in batches, and deletes the
file only once every row in it is committed; if ``commit`` raises, the file stays and the
next replay starts it again (the store skips rows it already holds). Nothing here knows
SQLite: ``commit(table, rows)`` is the whole contract with the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PREFIX, SUFFIX = "spill-", ".jsonl"
DAMAGED_SUFFIX = ".damaged"  # a file with unreadable lines is kept under this name, never replayed


@dataclass
class ReplayReport:
    """What one replay pass did: rows committed, rows the store already had, files finished."""

    committed: int = 0
    present: int = 0
    files: int = 0
    unreadable: int = 0  # lines that were not a whole JSON row (kept in a .damaged file)
    finished_rows: int = 0  # lines in the files finished (deleted, or kept as .damaged)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode(records: list[tuple[str, dict]]) -> bytes:
    """``(table, row)`` pairs as JSON Lines. Values are already SQL-ready (str, int, float, None)."""
    return "".join(
        json.dumps({"table": table, "row": row}, ensure_ascii=False, separators=(",", ":")) + "\n" for table, row in records
    ).encode("utf-8")


class SpillDir:
    """One process's view of a spill directory: its own open file, and replay of sealed ones."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._name: Path | None = None
        self._rows_in_file = 0

    # --- start-up ------------------------------------------------------------------------

    def check(self) -> None:
        """Create the directory if needed and prove a file can be written and synced there;
        raises ``OSError`` otherwise (the caller names the variable)."""
        self.path.mkdir(parents=True, exist_ok=True)
        probe = self.path / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"{}\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink()

    def sealed(self) -> list[Path]:
        """Spill files not open in this process, oldest first (another process may hold one)."""
        try:
            names = sorted(p for p in self.path.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))
        except OSError:
            return []
        return [p for p in names if p != self._name]

    def pending_rows(self) -> int:
        """Rows in every spill file in the directory: one per line."""
        total = 0
        for p in [*self.sealed(), *([self._name] if self._name else [])]:
            with contextlib.suppress(OSError):
                with p.open("rb") as f:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 20), b""))
        return total

    # --- appending -----------------------------------------------------------------------

    def append(self, records: list[tuple[str, dict]]) -> None:
        """Append ``(table, row)`` records durably, or raise ``OSError`` leaving the file as it was."""
        data = encode(records)
        fd = self._fd if self._fd is not None else self._open_new()
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            self._cut_back(fd, start)
            raise
        self._rows_in_file += len(records)

    def _open_new(self) -> int:
        self.path.mkdir(parents=True, exist_ok=True)  # removed by hand while in use: recreate, do not fail
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:].replace(".", "")
        name = self.path / f"{PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
        # Created under a name replay ignores and locked before it gets its real one: a file
        # visible under its spill name unlocked for a moment would look sealed, and another
        # process's replay could take it, find it empty and delete it under our appends.
        creating = name.with_name("." + name.name + ".new")
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(creating, name)
            _sync_dir(self.path)
        except OSError:
            os.close(fd)
            for path in (creating, name):
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        self._fd, self._name, self._rows_in_file = fd, name, 0
        return fd

    def _cut_back(self, fd: int, size: int) -> None:
        """Remove a half-written batch; if that fails too, stop appending to this file, so a
        torn line can only ever be its last."""
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            self.seal()
            return
        if size == 0:  # nothing of ours in it: drop the empty file rather than leave it
            name = self._name
            self.seal()
            with contextlib.suppress(OSError):
                if name is not None:
                    name.unlink()

    def seal(self) -> None:
        """Stop appending to the current file and release it for replay."""
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
        self._fd, self._name, self._rows_in_file = None, None, 0

    @property
    def open_rows(self) -> int:
        return self._rows_in_file

    # --- replay --------------------------------------------------------------------------

    def replay(
        self, commit: Callable[[str, list[dict]], int], batch_max: int = 500, report: ReplayReport | None = None
    ) -> ReplayReport:
        """Commit every sealed file's rows in order and delete each file once it is done.

        ``commit(table, rows)`` returns how many rows it stored (the rest were present
        already) or raises, which stops the pass with the file left in place; ``report``
        then holds the progress made before the exception."""
        report = report if report is not None else ReplayReport()
        for path in self.sealed():
            self._replay_file(path, commit, batch_max, report)
        return report

    def _replay_file(self, path: Path, commit, batch_max: int, report: ReplayReport) -> None:
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return  # another process finished it
        with f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # still being written, or being replayed elsewhere
            if not _same_file(f.fileno(), path):
                return  # replayed and deleted by another process between open and lock
            unreadable = lines = 0
            for table, rows, bad in _batches(f, batch_max):
                unreadable += bad
                lines += bad + len(rows)
                if rows:
                    stored = commit(table, rows)
                    report.committed += stored
                    report.present += len(rows) - stored
            report.unreadable += unreadable
            report.finished_rows += lines
            if unreadable:
                path.rename(path.with_name(path.name + DAMAGED_SUFFIX))
            else:
                path.unlink()
            _sync_dir(self.path)
            report.files += 1


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _batches(f, batch_max: int) -> Iterator[tuple[str, list[dict], int]]:
    """(table, rows, unreadable lines) in file order; a batch never mixes tables."""
    table, rows, bad = None, [], 0
    for line in f:
        try:
            item = json.loads(line)
            row_table, row = item["table"], item["row"]
        except (ValueError, KeyError, TypeError):
            bad += 1  # a torn last line after a crash mid-write, or damage
            continue
        if rows and (row_table != table or len(rows) >= batch_max):
            yield table, rows, bad
            rows, bad = [], 0
        table = row_table
        rows.append(row)
    if rows or bad:
        yield table or "", rows, bad
