"""The contract between the usage-log writer and a store: commit this batch, or raise.

A store (``SqliteSink`` today; a PostgreSQL one can follow) implements ``Sink``. The
writer, the spill files and replay only ever see this interface, so a second backend
reuses all of them. A batch is a list of tuples: a plain tuple is a ``usage_logs`` row
(``schema.WRITABLE`` order), a ``schema.RejectedValues`` one a ``rejected_requests`` row.
``commit`` returns how many rows were new: a row whose key the store already holds
(``(request_id, attempt)``; a refusal's ``request_id``) is skipped, which is what makes
replay idempotent. It raises ``StorageUnavailable`` when the store cannot take rows (the writer
spills the batch) and ``RowRejected`` when a row itself is bad (a bug; the writer isolates
the row and keeps the others).
"""

from __future__ import annotations

from typing import Protocol


class StorageUnavailable(Exception):
    """The store cannot take rows now. ``kind`` is stable (``full``, ``read_only``, ``deleted``...)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class RowRejected(Exception):
    """A row the store will never accept (a constraint or type error), whatever its health."""


class Sink(Protocol):
    def open(self, *, create: bool) -> None:
        """Connect and bring the schema up to date; ``create=False`` never makes a new store."""

    def check(self) -> None:
        """Raise ``StorageUnavailable`` if the store is no longer the one opened (cheap; called idle)."""

    def commit(self, rows: list[tuple], *, lock_wait_s: float | None = None) -> int:
        """Store ``rows`` in one transaction; return how many were new, or raise."""

    def close(self) -> None: ...
