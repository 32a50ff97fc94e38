"""Row-level analytics: the Requests audit log, per-request detail, refusals and the CSV export.

These read raw rows rather than rollups. ``run`` is the owning ``Analytics``'s query
function (refresh-then-query under its lock); per-request detail and the export read
SQLite directly, because they want columns the mirror leaves out (route reasons, error
messages, stored content) and must never be stale.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from .. import db
from ..redact import mask_content
from ..usage.schema import COLUMN_NAMES, TS_FORMAT

Run = Callable[[str, list], pd.DataFrame]
SEARCHED = ("request_id", "user", "model", "error_type", "prompt_text")
CONTENT = ("prompt_text", "response_text")  # stored prompt and answer text: not for every reader
ATTEMPT_DETAIL = tuple(c for c in COLUMN_NAMES if c != "estimate_raw_tokens")
EXPORTED = tuple(c for c in COLUMN_NAMES if c not in ("prompt_text", "response_text"))
PAGE_COLUMNS = (
    'ts, request_id, "user", team, task, priority, provider, model, status, error_type, attempt AS attempts, '
    "cost_usd, latency_ms, ttft_ms, input_tokens, output_tokens, synthetic"
)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def requests_page(
    run: Run, where: str, params: list, search: str, page: int, page_size: int, *, content: bool = True
) -> tuple[pd.DataFrame, int]:
    searched = SEARCHED if content else tuple(c for c in SEARCHED if c not in CONTENT)
    size = max(1, int(page_size))
    window = f"ORDER BY ts DESC, id DESC LIMIT {size} OFFSET {(max(1, int(page)) - 1) * size}"
    if not search.strip():
        total = int(run(f"SELECT count(*) AS n FROM logs WHERE {where} AND final", params)["n"].iloc[0])
        return run(f"SELECT {PAGE_COLUMNS} FROM logs WHERE {where} AND final {window}", params), total
    # Any attempt can match (a fallback's first error, say); the request shows as its final row.
    match = " OR ".join(f"\"{c}\" ILIKE ? ESCAPE '\\'" for c in searched)
    source = f"logs SEMI JOIN (SELECT DISTINCT request_id FROM logs WHERE {where} AND ({match})) USING (request_id)"
    args = [*params, *([_like(search.strip())] * len(searched)), *params]
    found = run(f"SELECT {PAGE_COLUMNS}, count(*) OVER () AS total FROM {source} WHERE {where} AND final {window}", args)
    if len(found) or page <= 1:
        return found.drop(columns="total"), int(found["total"].iloc[0]) if len(found) else 0
    count = run(f"SELECT count(*) AS n FROM {source} WHERE {where} AND final", args)  # past the last page
    return found.drop(columns="total"), int(count["n"].iloc[0])


def attempts_for(conn: object | None, request_id: str, *, content: bool = True) -> pd.DataFrame:
    """Every attempt of ``request_id``; without ``content`` the text columns stay empty, unread."""
    if conn is None:
        return pd.DataFrame(columns=list(ATTEMPT_DETAIL))
    quoted = ", ".join(f'"{c}"' if content or c not in CONTENT else f'NULL AS "{c}"' for c in ATTEMPT_DETAIL)
    rows = conn.execute(f"SELECT {quoted} FROM usage_logs WHERE request_id = ? ORDER BY attempt, id", (request_id,)).fetchall()
    frame = pd.DataFrame(rows, columns=list(ATTEMPT_DETAIL))
    for column in ("prompt_text", "response_text"):
        frame[column] = frame[column].map(mask_content)
    return frame


REJECTED_SHOWN = ("ts", "source", "field", "error_type", "user", "team", "key_id", "request_id")


def rejections(
    conn: object | None, start: datetime, end: datetime | None, users: tuple = (), limit: int = 200
) -> tuple[pd.DataFrame, int]:
    """Refused requests in [start, end), newest first (at most ``limit``), and how many there were.

    Read from SQLite: the table is small, and a refusal must show the moment it happened."""
    clauses, args = ["ts >= ?"], [start.strftime(TS_FORMAT)]
    if end is not None:
        clauses.append("ts < ?")
        args.append(end.strftime(TS_FORMAT))
    if users:
        clauses.append(f'"user" IN ({", ".join("?" * len(users))})')
        args.extend(users)
    where = " AND ".join(clauses)
    quoted = ", ".join(f'"{c}"' for c in REJECTED_SHOWN)
    total, rows = 0, []
    if conn is not None:
        try:
            total = conn.execute(f"SELECT count(*) FROM rejected_requests WHERE {where}", args).fetchone()[0]
            sql = f"SELECT {quoted} FROM rejected_requests WHERE {where} ORDER BY id DESC LIMIT ?"
            rows = conn.execute(sql, [*args, int(limit)]).fetchall()
        except db.UNAVAILABLE:  # a log from before the table existed, opened read-only
            total, rows = 0, []
    frame = pd.DataFrame(rows, columns=list(REJECTED_SHOWN))
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame, int(total)


def export_csv(conn: object | None, where: str, params: list) -> bytes:
    """CSV of the filtered attempts, every column but stored content, read from SQLite in id order.

    The filter predicate is plain SQL that SQLite also accepts (flags are 0/1 there); only
    timestamps need passing as the log's text form, which sorts like the instants.
    """
    rows: list[tuple] = []
    if conn is not None:
        quoted = ", ".join(f'"{c}"' for c in EXPORTED)
        args = [p.strftime(TS_FORMAT) if isinstance(p, datetime) else p for p in params]
        rows = conn.execute(f"SELECT {quoted} FROM usage_logs WHERE {where} ORDER BY id", args).fetchall()
    columns = list(zip(*rows)) if rows else [() for _ in EXPORTED]
    table = pa.table(
        {name: pa.array(list(values) or [], type=None if values else pa.string()) for name, values in zip(EXPORTED, columns)}
    )
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer)
    return buffer.getvalue()
