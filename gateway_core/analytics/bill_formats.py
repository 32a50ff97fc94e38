"""Reading cloud cost exports into plain bill lines: the two formats, their spellings, their dates.

Two exports are understood, told apart by their columns:

- ``cost-details``: Azure Cost Management's cost-details CSV. Enterprise Agreement exports
  spell columns in PascalCase (``MeterName``), Microsoft Customer Agreement ones in
  camelCase (``meterName``); dates are ``MM/DD/YYYY`` in most exports and ISO in some.
- ``cur``: AWS Cost and Usage Report, CUR 2.0 (``line_item_usage_type``) or legacy
  (``lineItem/UsageType``), as CSV or Parquet.

Every header is folded to one snake_case spelling (``CostInBillingCurrency``,
``costInBillingCurrency`` and ``lineItem/UnblendedCost``-style names all become
``cost_in_billing_currency`` / ``line_item_unblended_cost``), so the spellings differ only
here. Other columns are ignored. A file that cannot be read as a whole is refused with a
``BillFormatError`` naming the row (as a spreadsheet numbers it: the header is row 1) and
the column; nothing is half-imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..errors import ValidationError

# format -> {role: folded column}; the first three roles are required.
FORMATS = {
    "cost-details": {
        "date": "date",
        "meter": "meter_name",
        "quantity": "quantity",
        "cost": "cost_in_billing_currency",
        "currency": "billing_currency",
        "category": "meter_category",
        "subcategory": "meter_sub_category",
        "unit": "unit_of_measure",
        "resource": "resource_name",
    },
    "cur": {
        "date": "line_item_usage_start_date",
        "meter": "line_item_usage_type",
        "quantity": "line_item_usage_amount",
        "cost": "line_item_unblended_cost",
        "currency": "line_item_currency_code",
        "category": "line_item_product_code",
        "resource": "line_item_resource_id",
    },
}
REQUIRED = ("date", "meter", "quantity", "cost")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class BillFormatError(ValidationError):
    """A cost export that cannot be read; ``row`` and ``column`` say where."""

    type_name = "bill_format_error"

    def __init__(self, row: int, column: str, message: str):
        super().__init__("file", f"row {row}, column {column}: {message}")
        self.message = f"row {row}, column {column}: {message}"
        self.row = row
        self.column = column


@dataclass(frozen=True)
class BillLine:
    row: int
    day: date
    meter: str
    quantity: Decimal
    cost: Decimal
    currency: str | None
    category: str
    unit: str | None
    resource: str | None


def fold(name: str) -> str:
    """One spelling for a header: ``MeterSubCategory``/``meterSubCategory`` -> ``meter_sub_category``,
    ``lineItem/UsageType`` -> ``line_item_usage_type``."""
    return _CAMEL.sub("_", name.strip().lstrip("\ufeff")).replace("/", "_").replace(" ", "_").lower()


def detect(headers: list[str]) -> tuple[str, dict[str, str]]:
    """(format, role -> the file's own header) for a header row; refuses what is neither."""
    folded = {fold(h): h for h in headers}
    for name, roles in FORMATS.items():
        if roles["meter"] in folded:
            for role in REQUIRED:
                if roles[role] not in folded:
                    raise BillFormatError(1, _display(name, role), "missing from the header")
            return name, {role: folded[col] for role, col in roles.items() if col in folded}
    raise ValidationError(
        "file", "not a cost export this gateway reads: no MeterName (cost details) or line_item_usage_type (CUR) column"
    )


def _display(fmt: str, role: str) -> str:
    """The column as users know it, for messages about a missing one."""
    names = {"cost-details": {"date": "Date", "meter": "MeterName", "quantity": "Quantity", "cost": "CostInBillingCurrency"}}
    return names.get(fmt, {}).get(role, FORMATS[fmt][role])


def parse_day(text, row: int, column: str) -> date:
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    value = str(text or "").strip()
    if m := _ISO_DATE.match(value):
        y, mo, d = (int(g) for g in m.groups())
    elif m := _US_DATE.match(value):
        mo, d, y = (int(g) for g in m.groups())
    else:
        raise BillFormatError(row, column, f"{value[:40]!r} is not a date (MM/DD/YYYY or YYYY-MM-DD)")
    try:
        return date(y, mo, d)
    except ValueError:
        raise BillFormatError(row, column, f"{value[:40]!r} is not a real date") from None


def parse_number(text, row: int, column: str) -> Decimal:
    value = str(text if text is not None else "").strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BillFormatError(row, column, f"{value[:40]!r} is not a number") from None
    if not number.is_finite():
        raise BillFormatError(row, column, f"{value[:40]!r} is not a finite number")
    return number


def _lines(records: Iterator[tuple[int, dict]], cols: dict[str, str]) -> Iterator[BillLine]:
    def text(rec, role):
        col = cols.get(role)
        value = rec.get(col) if col else None
        return None if value is None else str(value).strip() or None

    for row, rec in records:
        meter = text(rec, "meter")
        if meter is None:
            raise BillFormatError(row, cols["meter"], "is empty")
        yield BillLine(
            row=row,
            day=parse_day(rec.get(cols["date"]), row, cols["date"]),
            meter=meter,
            quantity=parse_number(rec.get(cols["quantity"]), row, cols["quantity"]),
            cost=parse_number(rec.get(cols["cost"]), row, cols["cost"]),
            currency=text(rec, "currency"),
            category=" ".join(filter(None, (text(rec, "category"), text(rec, "subcategory")))),
            unit=text(rec, "unit"),
            resource=text(rec, "resource"),
        )


def read_bill(path: str | Path) -> tuple[str, list[BillLine]]:
    """(format, every line) of a CSV or Parquet export; raises ``BillFormatError`` on the first bad cell."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ValidationError("file", f"cannot read {path.name}: {e.strerror}") from None
    if raw[:4] == b"PAR1":
        return _read_parquet(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError("file", f"{path.name} is neither UTF-8 CSV nor Parquet (byte {e.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ValidationError("file", f"{path.name} is empty")
    fmt, cols = detect(list(reader.fieldnames))
    width = len(reader.fieldnames)

    def records():
        for i, rec in enumerate(reader, start=2):
            if None in rec:
                raise BillFormatError(i, f"after {reader.fieldnames[-1]}", f"the row has more fields than the header's {width}")
            short = next((name for name, value in rec.items() if value is None), None)
            if short is not None:
                raise BillFormatError(i, short, f"is missing: the row has fewer fields than the header's {width}")
            yield i, rec

    return fmt, list(_lines(records(), cols))


def _read_parquet(raw: bytes) -> tuple[str, list[BillLine]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as e:
        raise ValidationError("file", f"not a readable Parquet file ({str(e)[:120]})") from None
    fmt, cols = detect(table.column_names)
    table = table.select(sorted(set(cols.values())))
    # Parquet has no header row, so record n is reported as row n + 1, as its CSV twin would be.
    return fmt, list(_lines(((i, rec) for i, rec in enumerate(table.to_pylist(), start=2)), cols))
