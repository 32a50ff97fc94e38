"""Analytics over the usage log, on DuckDB.

``queries`` holds ``Analytics`` and ``Filters`` (every query the console and API run);
``mirror`` keeps the DuckDB copy of ``usage_logs`` in step with SQLite; ``rollups`` keeps
daily aggregates and histograms; ``audit`` has the row-level views; ``votes`` summarises the
blind A/B verdicts.
"""

from .queries import DEFAULT_DAYS, Analytics, Filters

__all__ = ["DEFAULT_DAYS", "Analytics", "Filters"]
