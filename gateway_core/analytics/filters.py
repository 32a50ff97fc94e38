"""What the Analytics and Requests pages are looking at: a time range and dimension filters.

``Filters`` renders itself as SQL predicates: ``dims`` over dimension columns only (valid on
the raw mirror and on the rollups alike) and ``where`` with the time range added, for raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

DEFAULT_DAYS = 30


def _utc_naive(value: datetime | date | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    return datetime(value.year, value.month, value.day)


@dataclass(frozen=True)
class Filters:
    """What the Analytics page is looking at (times in UTC).

    ``start`` None means midnight 30 days ago: whole days, so the default view is served
    from the daily rollups alone, with no partial day to scan.
    """

    start: datetime | date | None = None
    end: datetime | date | None = None
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    include_synthetic: bool = True
    teams: tuple[str, ...] = ()  # last, so positional construction keeps its meaning
    keys: tuple[str, ...] = ()  # API key names; after teams for the same reason

    def bounds(self) -> tuple[datetime, datetime | None]:
        if self.start is None:
            today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
            return today - timedelta(days=DEFAULT_DAYS), _utc_naive(self.end)
        return _utc_naive(self.start), _utc_naive(self.end)

    def dims(self) -> tuple[str, list]:
        """A predicate over dimension columns only: valid on the mirror and on the rollups."""
        clauses, params = ["true"], []
        for column, values in (
            ("provider", self.providers),
            ("model", self.models),
            ("task", self.tasks),
            ("user", self.users),
            ("team", self.teams),
            ("key_name", self.keys),
        ):
            if values:
                clauses.append(f'"{column}" IN ({", ".join("?" * len(values))})')
                params.extend(values)
        if not self.include_synthetic:
            clauses.append("NOT CAST(synthetic AS BOOLEAN)")  # a flag is 0/1 in SQLite and PostgreSQL
        return " AND ".join(clauses), params

    def previous(self, now: datetime | None = None) -> Filters:
        """The same filters over the period of equal length just before this one.

        An open or future end is taken as ``now``: the hours still to come hold no traffic,
        and counting them would make this period look emptier than the last."""
        start, end = self.bounds()
        now = _utc_naive(now or datetime.now(UTC))
        end = now if end is None or end > now else end
        return replace(self, start=start - (end - start), end=start)

    def where(self) -> tuple[str, list]:
        """The full predicate (time range and dimensions) over raw rows."""
        start, end = self.bounds()
        dims, params = self.dims()
        if end is None:
            return f"ts >= ? AND {dims}", [start, *params]
        return f"ts >= ? AND ts < ? AND {dims}", [start, end, *params]
