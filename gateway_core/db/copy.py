"""Copy a SQLite usage database into PostgreSQL, and prove the copy by counts and sums per table.

The move to PostgreSQL (README, "Scaling out") is: stop the gateway, ``gateway db copy
--from sqlite:PATH --to postgresql://...``, point ``GATEWAY_DB_URL`` at it, start. Every
table the migrations create is copied with its ids, in chunks, by ``INSERT ... ON CONFLICT
DO NOTHING``, so running the copy again adds nothing; bill lines (no key of their own) go
with their import, only when the import itself was new. Identity counters then continue
past the copied ids. ``verify`` compares each table's row count and the sums of its
numeric columns on both sides, a pure function of the two summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .target import Target, describe, is_postgres

CHUNK_ROWS = 5_000

# Parents before children; ``sums`` are the columns whose totals must agree after the copy.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("teams", ("budget_q", "rpm", "tpm")),
    ("api_keys", ("budget_q", "rpm", "tpm")),
    ("budget_ledger", ("spent_q", "reserved_q")),
    ("budget_reservations", ("amount_q",)),
    ("rate_limit_state", ("tat_ns",)),
    ("usage_logs", ("id", "attempt", "input_tokens", "output_tokens", "cost_usd")),
    ("rejected_requests", ("id",)),
    ("ab_votes", ("id", "cost_a_usd", "cost_b_usd")),
    ("admin_audit", ("id",)),
    ("log_meta", ("value",)),
    ("bill_imports", ("id", "rows", "out_of_scope_cost_usd")),
    ("bill_lines", ("import_id", "rows", "tokens", "cost_usd")),
)
IDENTITY_TABLES = ("usage_logs", "rejected_requests", "ab_votes", "admin_audit", "bill_imports")


@dataclass(frozen=True)
class TableSummary:
    table: str
    rows: int
    sums: tuple[tuple[str, float], ...]


def verify(source: list[TableSummary], target: list[TableSummary]) -> list[str]:
    """Every way ``target`` differs from ``source``, one sentence each; empty when the copy holds.

    Sums are compared to a relative 1e-9: a double summed in another order may differ in its
    last bits."""
    found = {s.table: s for s in target}
    problems = []
    for want in source:
        got = found.get(want.table)
        if got is None:
            problems.append(f"{want.table}: missing from the target")
            continue
        if got.rows != want.rows:
            problems.append(f"{want.table}: {want.rows} rows in the source, {got.rows} in the target")
        for (column, a), (_, b) in zip(want.sums, got.sums):
            if abs(a - b) > 1e-9 * max(abs(a), abs(b), 1.0):
                problems.append(f"{want.table}.{column}: sums to {a} in the source, {b} in the target")
    return problems


def summarise(conn, table: str, sums: tuple[str, ...]) -> TableSummary:
    columns = [c for c in sums if c in conn.columns(table)]
    totals = ", ".join(f'coalesce(sum("{c}"), 0)' for c in columns)
    row = conn.execute(f'SELECT count(*){", " + totals if totals else ""} FROM "{table}"').fetchone()
    return TableSummary(table, int(row[0]), tuple((c, float(v)) for c, v in zip(columns, row[1:])))


def _names(columns) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _chunks(conn, table: str, columns: list[str], where: str = "") -> Iterator[list[tuple]]:
    cur = conn.execute(f'SELECT {_names(columns)} FROM "{table}"{where}')
    while rows := cur.fetchmany(CHUNK_ROWS):
        yield rows


def _copy_table(src, dst, table: str, where: str = "") -> int:
    if not src.columns(table):
        return 0  # a database older than this table
    wanted = dst.columns(table)
    columns = [d[0] for d in src.execute(f'SELECT * FROM "{table}" LIMIT 0').description if d[0] in wanted]
    marks = ", ".join("?" * len(columns))
    insert = f'INSERT INTO "{table}" ({_names(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING'
    copied = 0
    for rows in _chunks(src, table, columns, where):
        with dst.transaction():
            dst.executemany(insert, rows)
        copied += len(rows)
    return copied


def copy_database(source: Target, target: str) -> dict[str, int]:
    """Copy every table of the SQLite log ``source`` into the PostgreSQL ``target`` (migrated
    first); returns rows read per table. Re-running it changes nothing."""
    from .. import db
    from ..usage.migrations import ensure_schema

    if is_postgres(source) or not is_postgres(target):
        raise ValueError("copy reads a SQLite file and writes a PostgreSQL database")
    ensure_schema(target)
    src, dst = db.connect(source, read_only=True), db.connect(target)
    try:
        known = {r[0] for r in dst.execute("SELECT id FROM bill_imports").fetchall()}
        copied = {table: _copy_table(src, dst, table) for table, _ in TABLES if table != "bill_lines"}
        fresh = [i for (i,) in src.execute("SELECT id FROM bill_imports").fetchall() if i not in known]
        in_fresh = f" WHERE import_id IN ({', '.join(str(int(i)) for i in fresh)})" if fresh else " WHERE 1 = 0"
        copied["bill_lines"] = _copy_table(src, dst, "bill_lines", in_fresh)
        for table in IDENTITY_TABLES:  # new rows continue past the copied ids
            dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), greatest((SELECT max(id) FROM \"{table}\"), 1))")
        return copied
    finally:
        src.close()
        dst.close()


def compare(source: Target, target: Target) -> list[str]:
    """``verify`` over both databases' summaries of every table the source has."""
    from .. import db

    src, dst = db.connect(source, read_only=True), db.connect(target)
    try:
        tables = [(t, sums) for t, sums in TABLES if src.columns(t)]
        return verify([summarise(src, t, s) for t, s in tables], [summarise(dst, t, s) for t, s in tables])
    finally:
        src.close()
        dst.close()


__all__ = ["TABLES", "TableSummary", "compare", "copy_database", "describe", "summarise", "verify"]
