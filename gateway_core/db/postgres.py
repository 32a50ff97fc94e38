"""PostgreSQL connections through psycopg 3: one pool per database and process, and the shared interface.

``connect(url)`` lends a connection from the process's pool for that URL (``psycopg_pool``,
created on first use, checked on every loan so a restarted server costs one failed check,
not a failed query) wrapped in ``PgConn``, the interface SQLite's connections share: the
common SQL is rewritten for psycopg on the way (``dialect.pyformat``), and ``close``
gives the connection back. Connections run in autocommit; ``transaction`` opens an
explicit one. ``lock(name)`` takes a transaction-scoped advisory lock: migrations take one
so that instances starting together apply each step once, and appends to ``usage_logs``
take another so that ids are handed out in commit order (what lets a mirror read by
``id > watermark`` and miss nothing).

A failure to reach the server, or a missing table, is raised as ``DatabaseUnavailable``;
``problem(exc)`` sorts any psycopg error into the writer's storage problems by its
SQLSTATE, a pure table. psycopg is imported only when a PostgreSQL URL is used.
"""

from __future__ import annotations

import atexit
import os
import threading
import zlib
from contextlib import contextmanager

from .dialect import POSTGRES_DIALECT, postgres_ddl, pyformat
from .errors import DatabaseUnavailable
from .target import describe

POOL_MAX = 10
POOL_TIMEOUT_S = 5.0  # waiting for a connection (or for the server) longer than this is an outage
CONNECT_TIMEOUT_S = 5
APPLICATION = "genai-gateway"

_POOLS: dict[tuple[int, str], object] = {}
_POOLS_LOCK = threading.Lock()

# SQLSTATE (exact code, else its two-character class) -> (kind, sentence). Not listed: the row's fault.
_PROBLEMS = {
    "08": ("unreachable", "the database server cannot be reached"),
    "53": ("full", "the database server is out of disk, memory or connections"),
    "57": ("unreachable", "the database server is shutting down or not accepting connections"),
    "58": ("io_error", "the database server reported an I/O error"),
    "XX": ("damaged", "the database server reported internal damage"),
    "25006": ("read_only", "the database is read-only (a standby, or read-only mode)"),
    "42501": ("read_only", "the database role may not write these tables"),
    "42P01": ("unusable", "the usage tables are missing"),
    "42703": ("unusable", "the usage tables have other columns than this version writes"),
    "55P03": ("locked", "a lock was held past the timeout"),
    "57014": ("locked", "the statement was cancelled (timeout)"),
    "40001": ("locked", "a concurrent transaction conflicted"),
    "40P01": ("locked", "a deadlock was broken by the server"),
}


def problem_of(sqlstate: str | None) -> tuple[str, str] | None:
    """(kind, sentence) for an SQLSTATE the writer must treat as the store being unwell; None
    when the statement itself was at fault (a constraint, a bad value). No SQLSTATE at all
    means the connection broke before the server answered."""
    if not sqlstate:
        return _PROBLEMS["08"]
    return _PROBLEMS.get(sqlstate) or _PROBLEMS.get(sqlstate[:2])


def sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "diag", None), "sqlstate", None) or getattr(exc, "sqlstate", None)


def problem(exc: BaseException) -> tuple[str, str] | None:
    import psycopg

    if isinstance(exc, psycopg.InterfaceError | psycopg.OperationalError) and not sqlstate(exc):
        return _PROBLEMS["08"]
    return problem_of(sqlstate(exc)) if isinstance(exc, psycopg.Error) else None


def unavailable(exc: BaseException, url: str) -> BaseException:
    """``exc`` as ``DatabaseUnavailable`` when it says the database cannot answer; else itself."""
    found = problem(exc)
    if found is None or found[0] not in ("unreachable", "unusable", "full", "io_error", "damaged"):
        return exc
    return DatabaseUnavailable(f"{found[1]} ({describe(url)}: {str(exc).strip().splitlines()[0] if str(exc) else found[0]})")


def open_connection(url: str, *, autocommit: bool = True):
    """A dedicated psycopg connection (not pooled), for a thread that keeps one for its life."""
    import psycopg

    return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S, application_name=APPLICATION)


def pool(url: str, max_size: int | None = None):
    """The process's pool for ``url`` (made on first use; ``max_size`` counts only then)."""
    key = (os.getpid(), url)
    with _POOLS_LOCK:
        found = _POOLS.get(key)
        if found is None:
            from psycopg_pool import ConnectionPool

            found = ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, max_size or POOL_MAX),
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "application_name": APPLICATION},
                check=ConnectionPool.check_connection,
                timeout=POOL_TIMEOUT_S,
                name="gateway",
                open=False,
            )
            found.open(wait=False)
            _POOLS[key] = found
        return found


def close_pool(url: str) -> None:
    """Close this process's pool for ``url``, if it has one (a test's throwaway schema, say)."""
    with _POOLS_LOCK:
        found = _POOLS.pop((os.getpid(), url), None)
    if found is not None:
        found.close(timeout=1.0)


@atexit.register
def close_pools() -> None:
    with _POOLS_LOCK:
        pools = [p for (pid, _), p in _POOLS.items() if pid == os.getpid()]
        _POOLS.clear()
    for p in pools:
        try:
            p.close(timeout=1.0)
        except Exception:  # noqa: BLE001 - leaving anyway
            pass


def connect(url: str, *, timeout: float | None = None, pool_size: int | None = None) -> PgConn:
    """A pooled connection; ``DatabaseUnavailable`` when none can be had within ``timeout``
    (default ``POOL_TIMEOUT_S``). ``pool_size`` sizes the pool if this call creates it."""
    from psycopg_pool import PoolTimeout

    lender = pool(url, pool_size)
    try:
        raw = lender.getconn(timeout=timeout)
    except PoolTimeout:
        raise DatabaseUnavailable(f"the database server cannot be reached ({describe(url)})") from None
    return PgConn(raw, url, lender.putconn)


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for ``name``."""
    return zlib.crc32(f"genai-gateway:{name}".encode()) | (0x4757 << 32)


class PgConn:
    """A psycopg connection behind the interface both databases share."""

    dialect = POSTGRES_DIALECT

    def __init__(self, raw, url: str, release=None):
        self.raw, self.url = raw, url
        self._release = release

    def execute(self, sql: str, params=()):
        try:
            return self.raw.execute(pyformat(sql), params)
        except Exception as exc:
            raise unavailable(exc, self.url) from None

    def executemany(self, sql: str, rows):
        cur = self.raw.cursor()
        try:
            cur.executemany(pyformat(sql), rows)
        except Exception as exc:
            raise unavailable(exc, self.url) from None
        return cur

    @contextmanager
    def transaction(self):
        try:
            with self.raw.transaction():
                yield self
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            raise unavailable(exc, self.url) from None

    def ddl(self, sql: str) -> None:
        self.execute(postgres_ddl(sql))

    def columns(self, table: str) -> set[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
        return {r[0] for r in rows}

    def lock(self, name: str) -> None:
        """Hold the advisory lock ``name`` until this transaction ends."""
        self.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))

    @property
    def usable(self) -> bool:
        """False once the connection is closed or broke (a server restart, a network cut)."""
        return self.raw is not None and not (self.raw.closed or self.raw.broken)

    def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is None:
            return
        if self._release is not None:
            self._release(raw)
        else:
            raw.close()
