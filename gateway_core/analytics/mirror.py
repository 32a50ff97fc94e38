"""The DuckDB mirror of ``usage_logs``: typed columns, loaded incrementally from SQLite or PostgreSQL.

DuckDB's own SQLite and PostgreSQL scanners are not used: their extensions are downloaded
at run time (which fails offline), and the SQLite one cannot push ``id > watermark`` down,
so every refresh would rescan the table. Instead new rows are read through the database's
own driver (``sqlite3``, or psycopg) by ``id > watermark ORDER BY id`` in chunks, turned column by column into Arrow arrays (pandas stays out of
the loading path: it is ~4x slower per million rows), and appended with ``ts`` as a real
TIMESTAMP and money as DOUBLE. Only the columns analytics reads are mirrored; long free
text (route reasons, error messages, responses) stays in SQLite and is read per request.

The SQLite file is only ever opened read-only. Reading by id misses nothing on PostgreSQL
either: its writers take one append lock, so ids become visible in commit order (see
``usage.pg_sink``). A purge bumps ``log_meta.generation``; a changed generation (or a log
whose ids went backwards) makes the mirror rebuild.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from .. import db

# (column, DuckDB type, Arrow type used while loading). ts arrives as text and is cast.
MIRROR_COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("id", "BIGINT", pa.int64()),
    ("ts", "TIMESTAMP", pa.string()),
    ("request_id", "VARCHAR", pa.string()),
    ("attempt", "INTEGER", pa.int32()),
    ("final", "BOOLEAN", pa.int8()),
    ("user", "VARCHAR", pa.string()),
    ("team", "VARCHAR", pa.string()),
    ("key_name", "VARCHAR", pa.string()),  # the API key's name (never the key); NULL without one
    ("task", "VARCHAR", pa.string()),
    ("priority", "VARCHAR", pa.string()),
    ("provider", "VARCHAR", pa.string()),
    ("model", "VARCHAR", pa.string()),
    ("prompt_tokens_est", "BIGINT", pa.int64()),
    ("total_tokens_est", "BIGINT", pa.int64()),
    ("cost_est_usd", "DOUBLE", pa.float64()),
    ("input_tokens", "BIGINT", pa.int64()),
    ("output_tokens", "BIGINT", pa.int64()),
    ("cached_input_tokens", "BIGINT", pa.int64()),
    ("cost_usd", "DOUBLE", pa.float64()),
    ("unpriced", "BOOLEAN", pa.int8()),
    ("counterfactual_cost_usd", "DOUBLE", pa.float64()),
    ("latency_ms", "DOUBLE", pa.float64()),
    ("ttft_ms", "DOUBLE", pa.float64()),
    ("status", "VARCHAR", pa.string()),
    ("error_type", "VARCHAR", pa.string()),
    ("synthetic", "BOOLEAN", pa.int8()),
    ("estimate_raw_tokens", "BIGINT", pa.int64()),  # re-tokenising for another model (replay)
    ("prompt_text", "VARCHAR", pa.string()),  # NULL unless content is stored; searched by the audit log
)
MIRROR_NAMES = tuple(name for name, _, _ in MIRROR_COLUMNS)
_ARROW_SCHEMA = pa.schema([(name, arrow) for name, _, arrow in MIRROR_COLUMNS])
CHUNK_ROWS = 100_000


def create_mirror(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f'"{name}" {duck}' for name, duck, _ in MIRROR_COLUMNS)
    con.execute("DROP TABLE IF EXISTS logs")
    con.execute(f"CREATE TABLE logs ({cols})")


def mirror_matches(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a persisted mirror has today's columns; one written by an older version rebuilds."""
    try:
        names = [row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE logs)").fetchall()]
    except duckdb.Error:
        return False
    return tuple(names) == MIRROR_NAMES


def _to_arrow(rows: list[tuple]) -> pa.Table:
    # Flags travel as int8 (SQLite's 0/1) and become BOOLEAN on insert.
    arrays = [pa.array(values, type=arrow) for (_, _, arrow), values in zip(MIRROR_COLUMNS, zip(*rows))]
    return pa.Table.from_arrays(arrays, schema=_ARROW_SCHEMA)


def _append(con: duckdb.DuckDBPyConnection, chunk: pa.Table) -> None:
    select = ", ".join("CAST(ts AS TIMESTAMP)" if name == "ts" else f'"{name}"' for name in MIRROR_NAMES)
    con.register("_chunk", chunk)
    try:
        con.execute(f"INSERT INTO logs SELECT {select} FROM _chunk")
    finally:
        con.unregister("_chunk")


class LogSource:
    """Read-only access to the log, a SQLite file or a PostgreSQL database; an absent file or
    tables read as empty. A PostgreSQL connection that broke (a server restart) is replaced
    on the next use."""

    def __init__(self, target: db.Target):
        self.target = target if db.is_postgres(target) else Path(target)
        self._conn = None

    def conn(self):
        if self._conn is not None and not getattr(self._conn, "usable", True):
            self.close()
        if self._conn is None and (db.is_postgres(self.target) or self.target.exists()):
            conn = None
            try:
                conn = db.connect(self.target, read_only=True)
                conn.execute("SELECT 1 FROM usage_logs LIMIT 1").fetchall()
            except db.UNAVAILABLE:
                if conn is not None:
                    conn.close()
                return None  # not migrated yet, or not reachable
            self._conn = conn
        return self._conn

    def generation(self) -> int:
        conn = self.conn()
        if conn is None:
            return 0
        try:
            row = conn.execute("SELECT value FROM log_meta WHERE key = 'generation'").fetchone()
        except db.UNAVAILABLE:
            return 0
        return int(row[0]) if row else 0

    def max_id(self) -> int:
        conn = self.conn()
        return 0 if conn is None else int(conn.execute("SELECT coalesce(max(id), 0) FROM usage_logs").fetchone()[0])

    def copy_new_rows(self, con: duckdb.DuckDBPyConnection, watermark: int, on_chunk=None) -> tuple[int, int]:
        """Append rows with ``id > watermark`` to the mirror; returns (rows added, new watermark).
        ``on_chunk(rows added so far)`` hears about each chunk, for a progress bar."""
        conn = self.conn()
        if conn is None:
            return 0, watermark
        select = ", ".join(f'"{name}"' for name in MIRROR_NAMES)
        added = 0
        while True:
            rows = conn.execute(
                f"SELECT {select} FROM usage_logs WHERE id > ? ORDER BY id LIMIT ?", (watermark, CHUNK_ROWS)
            ).fetchall()
            if not rows:
                return added, watermark
            _append(con, _to_arrow(rows))
            added += len(rows)
            watermark = rows[-1][0]
            if on_chunk is not None:
                on_chunk(added)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
