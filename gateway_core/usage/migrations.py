"""The usage log's migrations: small ordered functions, each recorded in ``migrations`` once applied.

``MIGRATIONS`` is the one list, for SQLite and PostgreSQL alike; a new table or index joins
it as one more function at the end (``m005_...``). Each step takes a connection in the
shared interface (``gateway_core.db``) and writes its DDL with SQLite's types through
``conn.ddl``, which the dialect maps. ``migrate`` applies the pending ones in one write
transaction (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL, whose DDL is transactional, under
an advisory lock), so processes opening a fresh database at once cannot race and several
instances may start together; ``ensure_schema`` is what every writer calls before its first row.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import db
from .schema import COLUMNS, REJECTED_COLUMNS, STATUSES, utc_now_text

Step = Callable[["db.SqliteConn"], None]


def m001_initial(conn) -> None:
    cols = ",\n  ".join(f'"{name}" {decl}' for name, decl in COLUMNS)
    conn.ddl(f"CREATE TABLE IF NOT EXISTS usage_logs (\n  {cols}\n)")
    conn.execute("CREATE INDEX IF NOT EXISTS usage_logs_ts ON usage_logs (ts)")
    conn.execute("CREATE INDEX IF NOT EXISTS usage_logs_request_id ON usage_logs (request_id)")


def m002_ab_votes(conn) -> None:
    conn.ddl(
        """CREATE TABLE IF NOT EXISTS ab_votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  compare_id TEXT NOT NULL,
  task TEXT,
  provider_a TEXT NOT NULL, model_a TEXT,
  provider_b TEXT NOT NULL, model_b TEXT,
  verdict TEXT NOT NULL CHECK (verdict IN ('a', 'b', 'tie', 'both_bad')),
  winner_provider TEXT,
  winner_model TEXT,
  cost_a_usd REAL,
  cost_b_usd REAL,
  "user" TEXT
)"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS ab_votes_task ON ab_votes (task)")


def m003_log_meta(conn) -> None:
    """A generation counter that bulk deletions bump, so mirrors know to rebuild."""
    conn.execute("CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    conn.execute("INSERT INTO log_meta (key, value) VALUES ('generation', 0) ON CONFLICT DO NOTHING")


def m004_write_path_indexes(conn) -> None:
    """Trade the ``ts`` index for a partial one on real traffic.

    Every index is paid on each insert by the single writer thread (the ``ts`` index was a
    third of a row's cost), and nothing reads SQLite by time: analytics reads its DuckDB
    mirror by id. The router's warm-up reads the newest non-synthetic rows, which the
    partial index serves in under a millisecond at a million rows."""
    conn.execute("DROP INDEX IF EXISTS usage_logs_ts")
    conn.execute("CREATE INDEX IF NOT EXISTS usage_logs_real_id ON usage_logs (id) WHERE synthetic = 0")


def m005_governance(conn) -> None:
    """Keys, teams, the budget ledger and reservations, rate-limit state: ``governance.schema``.

    Imported here, when it runs: the governance package itself opens the usage log."""
    from ..governance.schema import MIGRATION_STEPS

    for _, step in MIGRATION_STEPS:
        step(conn)


def m005_key_name(conn) -> None:
    """Usage rows name the API key a request ran as (never the key itself), beside its team.

    A log created since the column joined ``COLUMNS`` has it already."""
    if "key_name" not in conn.columns("usage_logs"):
        conn.ddl("ALTER TABLE usage_logs ADD COLUMN key_name TEXT")


# What rejected rows used to say in usage_logs.error_message: "invalid <field> (<source>)".
_OLD_REJECTION = re.compile(r"invalid (?P<field>.+) \((?P<source>[^()]*)\)")
_STATUS_CHECK = re.compile(r"CHECK \(status IN \([^)]*\)\)")


def parse_old_rejection(message: str | None) -> tuple[str | None, str]:
    """(field, source) from a rejected row's old error message; ("unknown" source when unreadable)."""
    m = _OLD_REJECTION.fullmatch(message or "")
    return (m["field"], m["source"] or "unknown") if m else (None, "unknown")


def m006_rejected_requests(conn) -> None:
    """Refused requests get their own table, so ``usage_logs`` holds provider attempts only.

    Existing rejected rows move across (their field and source parsed back out of the
    message they were stored with), and ``usage_logs.status`` trades ``rejected`` for
    ``cancelled``: a stream its caller abandoned, billed for what was delivered."""
    cols = ",\n  ".join(f'"{name}" {decl}' for name, decl in REJECTED_COLUMNS)
    conn.ddl(f"CREATE TABLE IF NOT EXISTS rejected_requests (\n  {cols}\n)")
    conn.execute("CREATE INDEX IF NOT EXISTS rejected_requests_ts ON rejected_requests (ts)")
    old = conn.execute(
        "SELECT ts, request_id, error_message, coalesce(error_type, 'validation_error'), \"user\", team"
        " FROM usage_logs WHERE status = 'rejected' ORDER BY id"
    ).fetchall()
    moved = []
    for ts, request_id, message, error_type, user, team in old:
        field, source = parse_old_rejection(message)
        moved.append((ts, request_id, source, field, error_type, user, team))
    conn.executemany(
        'INSERT INTO rejected_requests (ts, request_id, source, field, error_type, "user", team) VALUES (?,?,?,?,?,?,?)', moved
    )
    conn.execute("DELETE FROM usage_logs WHERE status = 'rejected'")
    _set_status_check(conn, "usage_logs", STATUSES)
    if old:
        bump_generation(conn)


def _set_status_check(conn, table: str, statuses: tuple[str, ...]) -> None:
    """Rewrite ``table``'s status CHECK to allow exactly ``statuses``.

    PostgreSQL alters the constraint in place. SQLite cannot, so the table is rebuilt the documented way: create
    the new shape under a temporary name, copy every row, drop, rename, recreate its
    indexes. The statement is taken from ``sqlite_master``, so columns added by other
    migrations survive; the AUTOINCREMENT high-water mark is carried over, so ids never
    go backwards (mirrors read by ``id > watermark``)."""
    check = "CHECK (status IN (" + ", ".join(f"'{s}'" for s in statuses) + "))"
    if conn.dialect.is_postgres:
        _replace_status_check(conn, table, check)
        return
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    wanted = _STATUS_CHECK.sub(check, sql)
    if wanted == sql:
        return
    temp = f"{table}_rebuild"
    create = re.sub(rf'^CREATE TABLE\s+(IF NOT EXISTS\s+)?"?{table}"?', f'CREATE TABLE "{temp}"', wanted, count=1)
    indexes = [
        s
        for (s,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type = 'index' AND sql IS NOT NULL", (table,)
        )
    ]
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    conn.execute(create)
    conn.execute(f'INSERT INTO "{temp}" SELECT * FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(f'ALTER TABLE "{temp}" RENAME TO "{table}"')
    for statement in indexes:
        conn.execute(statement)
    if seq is not None:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, max(?, coalesce(max(id), 0)) FROM " + f'"{table}"', (table, seq[0])
        )


def _replace_status_check(conn, table: str, check: str) -> None:
    names = conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(? AS regclass) AND contype = 'c'"
        " AND pg_get_constraintdef(oid) LIKE '%status%'",
        (table,),
    ).fetchall()
    drops = "".join(f'DROP CONSTRAINT "{name}", ' for (name,) in names)
    conn.execute(f'ALTER TABLE "{table}" {drops}ADD CONSTRAINT "{table}_status_check" {check}')


def m007_policy(conn) -> None:
    """Usage rows say which routing policy decided (its version), what it decided and the rules
    that fired. A log created since the columns joined ``COLUMNS`` has them already."""
    have = conn.columns("usage_logs")
    for name in ("policy_version", "policy_decision", "policy_rules"):
        if name not in have:
            conn.ddl(f'ALTER TABLE usage_logs ADD COLUMN "{name}" TEXT')


def m008_console_audit(conn) -> None:
    """The admin audit log (``governance.audit_log``): who changed keys, budgets, policy,
    faults or data, from which surface, and when. Rows are only ever added."""
    conn.ddl(
        """CREATE TABLE IF NOT EXISTS admin_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT,
  source TEXT NOT NULL CHECK (source IN ('console', 'cli', 'api')),
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT
)"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS admin_audit_ts ON admin_audit (ts)")


def m009_billing(conn) -> None:
    """Imported cloud bills (``analytics.billing``): one ``bill_imports`` row per file (its hash
    keeps a re-import from counting twice) and its lines summed per (day, meter, mapping) in
    ``bill_lines``; a line no meter rule explains keeps provider NULL and is listed as unknown."""
    conn.ddl(
        """CREATE TABLE IF NOT EXISTS bill_imports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  imported_at TEXT NOT NULL,
  file_name TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  format TEXT NOT NULL,
  rows INTEGER NOT NULL,
  first_day TEXT,
  last_day TEXT,
  out_of_scope_rows INTEGER NOT NULL DEFAULT 0,
  out_of_scope_cost_usd REAL NOT NULL DEFAULT 0
)"""
    )
    conn.ddl(
        """CREATE TABLE IF NOT EXISTS bill_lines (
  import_id INTEGER NOT NULL REFERENCES bill_imports (id),
  day TEXT NOT NULL,
  meter TEXT NOT NULL,
  provider TEXT,
  model TEXT,
  direction TEXT CHECK (direction IN ('input', 'output')),
  rows INTEGER NOT NULL,
  tokens REAL NOT NULL,
  cost_usd REAL NOT NULL
)"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS bill_lines_day ON bill_lines (day, provider)")


def _move_repeated_keys(conn, table: str, key: tuple[str, ...]) -> int:
    """Keep the first row (lowest id) of each repeated ``key`` in ``table``; move the later
    copies, whole and with their ids, to ``<table>_duplicates``. Returns how many moved."""
    cols = ", ".join(key)
    repeated = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {cols} HAVING count(*) > 1) AS repeated"
    ).fetchone()[0]
    if not repeated:
        return 0
    aside = f"{table}_duplicates"
    same = " AND ".join(f"f.{c} = u.{c}" for c in key)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {aside} AS SELECT * FROM {table} WHERE 1 = 0")
    conn.execute(
        f"INSERT INTO {aside} SELECT * FROM {table} AS u WHERE EXISTS (SELECT 1 FROM {table} AS f WHERE {same} AND f.id < u.id)"
    )
    return conn.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {aside})").rowcount


def m010_attempt_key(conn) -> None:
    """One row per ``(request_id, attempt)``, and one refusal per ``request_id``, so replaying
    a spill file skips rows already stored.

    The gateway numbers attempts from 1 under a fresh random request id, and gives each
    refusal its own id, so its own rows never collide; a log can still hold a repeated key
    from rows written by hand through ``UsageLog.write``. The first row of such a key stays;
    later copies move to ``<table>_duplicates``: nothing leaves the log silently, and
    analytics counts each attempt once. The key's index also serves every lookup by
    ``request_id``, so the old single-column index goes (one index fewer per insert)."""
    if _move_repeated_keys(conn, "usage_logs", ("request_id", "attempt")):
        bump_generation(conn)  # mirrors drop the moved rows on their rebuild
    _move_repeated_keys(conn, "rejected_requests", ("request_id",))
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS usage_logs_attempt_key ON usage_logs (request_id, attempt)")
    conn.execute("DROP INDEX IF EXISTS usage_logs_request_id")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS rejected_requests_key ON rejected_requests (request_id)")


MIGRATIONS: tuple[Step, ...] = (
    m001_initial,
    m002_ab_votes,
    m003_log_meta,
    m004_write_path_indexes,
    m005_governance,
    m005_key_name,
    m006_rejected_requests,
    m007_policy,
    m008_console_audit,
    m009_billing,
    m010_attempt_key,
)


def migrate(conn, steps: tuple[Step, ...] = MIGRATIONS) -> list[str]:
    """Apply pending migrations (``steps``, default the log's own) in order; returns the names applied now.

    ``conn`` is a connection in the shared interface, or a raw ``sqlite3`` one. The write
    lock (SQLite's ``BEGIN IMMEDIATE``; an advisory lock on PostgreSQL) is taken before
    reading what is applied, so two processes starting at once apply each migration exactly once.
    """
    conn = db.as_conn(conn)
    with conn.transaction():
        conn.lock("migrations")
        conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {name for (name,) in conn.execute("SELECT name FROM migrations").fetchall()}
        applied = []
        for step in steps:
            if step.__name__ not in done:
                step(conn)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (step.__name__, utc_now_text()))
                applied.append(step.__name__)
    return applied


def ensure_schema(target: db.Target) -> None:
    """Bring the database at ``target`` (a SQLite path or a PostgreSQL URL) up to date."""
    conn = db.connect(target)
    try:
        migrate(conn)
    finally:
        conn.close()


def bump_generation(conn) -> None:
    """Call inside the transaction that deletes rows: mirrors rebuild when it changes."""
    conn.execute("UPDATE log_meta SET value = value + 1 WHERE key = 'generation'")
