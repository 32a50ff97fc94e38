"""Bill reconciliation: import a cloud cost export, map its lines onto the log's models, and find the gaps.

``import_bill`` reads an export (``bill_formats``), maps each line to (provider, model,
input | output) with the meter table (``bill_meters.toml``, which users extend or override
with their own file, rows first), and stores one row per (day, meter, mapping) in
``bill_lines`` under a ``bill_imports`` record (migration ``m009_billing``). Lines that are
not AI token usage are counted as out of scope; in-scope lines no meter row explains are
stored unmapped and listed as unknown meters. Nothing is dropped silently.

``reconcile`` compares, per day, provider and model, the bill's tokens and dollars with the
log's (the log side comes from the analytics rollups; model names are folded to the price
table's canonical id on both sides), on the days the bill covers for that provider, the
newest import winning where imports overlap. A gap is bill minus log; one beyond the
threshold (5% by default) in tokens or dollars is flagged. ``price_warnings`` turns the
gaps into the notes the price table shows: a dollar gap with matching tokens means the
table's rate is not what the bill charges.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pandas as pd

from .. import db
from ..errors import ConfigError
from ..usage.migrations import ensure_schema
from ..usage.schema import utc_now_text
from .bill_formats import FORMATS, BillFormatError, BillLine, read_bill

METERS_ENV = "GATEWAY_BILL_METERS_FILE"
DEFAULT_THRESHOLD_PCT = 5.0
DIRECTIONS = ("input", "output")
_UNIT = re.compile(r"^\s*([\d.]+)\s*([KkMm]?)\b")


@dataclass(frozen=True)
class MeterRule:
    format: str
    pattern: re.Pattern
    provider: str
    model: str
    tokens_per_unit: float | None = None


@dataclass(frozen=True)
class MeterTable:
    formats: dict  # format -> {scope_field, scope, output, input (compiled), tokens_per_unit}
    rules: tuple[MeterRule, ...]

    @classmethod
    def load(cls, override: str | None = None) -> MeterTable:
        """The packaged table with ``override``'s rows in front and its format settings on top."""
        data = _parse(resources.files(__package__).joinpath("bill_meters.toml").read_text("utf-8"), "bill_meters.toml")
        rules, formats = data["rules"], data["formats"]
        if override:
            try:
                text = Path(override).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(METERS_ENV, f"cannot read meter table {override!r}: {e}") from None
            mine = _parse(text, override)
            rules = mine["rules"] + rules
            formats = {name: {**formats[name], **mine["formats"].get(name, {})} for name in formats}
        return cls(formats, tuple(rules))

    def classify(self, fmt: str, line: BillLine) -> tuple[str | None, str | None, str | None, float]:
        """(provider, model, direction, tokens per unit) for an in-scope line; Nones when unknown."""
        spec = self.formats[fmt]
        direction = "output" if spec["output"].search(line.meter) else "input" if spec["input"].search(line.meter) else None
        rule = next((r for r in self.rules if r.format == fmt and r.pattern.search(line.meter)), None)
        per_unit = _unit_tokens(line.unit) or (rule and rule.tokens_per_unit) or spec["tokens_per_unit"]
        if rule is None or direction is None:
            return None, None, None, per_unit
        return rule.provider, rule.model, direction, per_unit

    def in_scope(self, fmt: str, line: BillLine) -> bool:
        return bool(self.formats[fmt]["scope"].search(line.category or ""))


def _parse(text: str, name: str) -> dict:
    try:
        data = tomllib.loads(text)
        formats = {}
        for fmt, spec in data.get("formats", {}).items():
            if fmt not in FORMATS:
                raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
            formats[fmt] = {k: re.compile(v) if k in ("scope", "output", "input") else v for k, v in spec.items()}
        rules = []
        for n, row in enumerate(data.get("meters", []), 1):
            if row.get("format") not in FORMATS:
                raise ValueError(f"[[meters]] row {n}: format must be one of {', '.join(FORMATS)}")
            unit = row.get("tokens_per_unit")
            rules.append(MeterRule(row["format"], re.compile(row["pattern"]), row["provider"], row["model"], unit))
    except (tomllib.TOMLDecodeError, KeyError, re.error, ValueError, TypeError) as e:
        raise ConfigError(METERS_ENV, f"invalid meter table {name!r}: {e}") from None
    return {"formats": formats, "rules": rules}


def _unit_tokens(unit: str | None) -> float | None:
    """Tokens per unit from a UnitOfMeasure such as "1K", "1M Tokens" or "1000"."""
    m = _UNIT.match(unit or "")
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]


# --- importing ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    import_id: int
    format: str
    rows: int
    first_day: date | None
    last_day: date | None
    mapped_cost_usd: float
    unknown: pd.DataFrame  # meter, rows, quantity, cost_usd: in scope but not mapped
    out_of_scope_rows: int
    out_of_scope_cost_usd: float
    duplicate: bool = False
    notes: list[str] = field(default_factory=list)


def _aggregate(fmt: str, lines: list[BillLine], table: MeterTable) -> tuple[dict, int, Decimal]:
    """(day, meter, provider, model, direction) -> [rows, tokens, cost]; plus out-of-scope count and cost."""
    groups: dict = defaultdict(lambda: [0, 0.0, Decimal(0)])
    skipped, skipped_cost = 0, Decimal(0)
    for line in lines:
        if not table.in_scope(fmt, line):
            skipped, skipped_cost = skipped + 1, skipped_cost + line.cost
            continue
        if line.currency and line.currency.upper() != "USD":
            column = "BillingCurrency" if fmt == "cost-details" else "line_item_currency_code"
            raise BillFormatError(line.row, column, f"is {line.currency!r}; only USD bills compare with the log's USD costs")
        provider, model, direction, per_unit = table.classify(fmt, line)
        g = groups[(line.day.isoformat(), line.meter, provider, model, direction)]
        g[0] += 1
        g[1] += float(line.quantity) * per_unit
        g[2] += line.cost
    return groups, skipped, skipped_cost


def import_bill(db_path: db.Target, file: str | Path, meters: MeterTable | None = None) -> ImportResult:
    """Read, map and store one export; importing the same file again changes nothing."""
    raw = Path(file).read_bytes() if Path(file).is_file() else b""
    digest = hashlib.sha256(raw).hexdigest()
    fmt, lines = read_bill(file)
    table = meters or MeterTable.load()
    groups, skipped, skipped_cost = _aggregate(fmt, lines, table)
    ensure_schema(db_path)
    conn = db.connect(db_path)
    try:
        existing = conn.execute("SELECT id FROM bill_imports WHERE sha256 = ?", (digest,)).fetchone()
        if existing:
            result = _summary(conn, existing[0])
            result.duplicate = True
            result.notes.append(f"{Path(file).name} was already imported as #{existing[0]}; nothing changed")
            return result
        days = sorted(k[0] for k in groups)
        with conn.transaction():
            cur = conn.execute(
                "INSERT INTO bill_imports (imported_at, file_name, sha256, format, rows, first_day, last_day,"
                " out_of_scope_rows, out_of_scope_cost_usd) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                (utc_now_text(), Path(file).name, digest, fmt, len(lines), days[0] if days else None,
                 days[-1] if days else None, skipped, float(skipped_cost)),
            )  # fmt: skip
            import_id = int(cur.fetchone()[0])
            conn.executemany(
                "INSERT INTO bill_lines (import_id, day, meter, provider, model, direction, rows, tokens, cost_usd)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(import_id, *key, n, tokens, float(cost)) for key, (n, tokens, cost) in groups.items()],
            )
        return _summary(conn, import_id)
    finally:
        conn.close()


def _summary(conn, import_id: int) -> ImportResult:
    head = conn.execute(
        "SELECT format, rows, first_day, last_day, out_of_scope_rows, out_of_scope_cost_usd FROM bill_imports WHERE id = ?",
        (import_id,),
    ).fetchone()
    mapped = conn.execute(
        "SELECT coalesce(sum(cost_usd), 0) FROM bill_lines WHERE import_id = ? AND provider IS NOT NULL", (import_id,)
    ).fetchone()[0]
    unknown = _frame(
        conn,
        """SELECT meter, sum(rows) AS rows, sum(tokens) AS quantity_tokens, sum(cost_usd) AS cost_usd FROM bill_lines
           WHERE import_id = ? AND provider IS NULL GROUP BY meter ORDER BY cost_usd DESC""",
        (import_id,),
    )
    day = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
    return ImportResult(import_id, head[0], head[1], day(head[2]), day(head[3]), float(mapped), unknown, head[4], head[5])


def _frame(conn, sql: str, params=()) -> pd.DataFrame:
    cur = conn.execute(sql, params)
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


# --- reading back -----------------------------------------------------------------------------


def _read(conn, sql: str, cols: list[str]) -> pd.DataFrame:
    """``sql``'s rows, or an empty frame with ``cols`` when there is no log or no bill table yet."""
    if conn is None:
        return pd.DataFrame(columns=cols)
    try:
        return _frame(conn, sql)
    except db.UNAVAILABLE:  # not migrated yet: no bill imported
        return pd.DataFrame(columns=cols)


_IMPORT_COLUMNS = ["id", "imported_at", "file_name", "format", "rows", "first_day", "last_day", "out_of_scope_rows"]


def imports(conn) -> pd.DataFrame:
    """Every import, newest first."""
    return _read(conn, f"SELECT {', '.join(_IMPORT_COLUMNS)} FROM bill_imports ORDER BY id DESC", _IMPORT_COLUMNS)


def bill_by_model_day(conn) -> pd.DataFrame:
    """The bill per (day, provider, model): input and output tokens and dollars, newest import per
    (provider, day); plus unknown meters as provider None."""
    return _read(
        conn,
        """WITH owner AS (SELECT coalesce(provider, '?') AS p, day, max(import_id) AS import_id FROM bill_lines GROUP BY 1, 2)
           SELECT l.day, l.provider, l.model,
                  sum(l.tokens) FILTER (WHERE l.direction = 'input') AS bill_input,
                  sum(l.tokens) FILTER (WHERE l.direction = 'output') AS bill_output,
                  sum(l.cost_usd) AS bill_cost_usd
           FROM bill_lines l JOIN owner o ON o.p = coalesce(l.provider, '?') AND o.day = l.day AND o.import_id = l.import_id
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        ["day", "provider", "model", "bill_input", "bill_output", "bill_cost_usd"],
    )


def unknown_meters(conn) -> pd.DataFrame:
    """In-scope lines no meter rule maps, per import and meter, largest cost first."""
    return _read(
        conn,
        """SELECT import_id, meter, min(day) AS first_day, max(day) AS last_day, sum(rows) AS rows, sum(cost_usd) AS cost_usd
           FROM bill_lines WHERE provider IS NULL GROUP BY 1, 2 ORDER BY cost_usd DESC""",
        ["import_id", "meter", "first_day", "last_day", "rows", "cost_usd"],
    )
