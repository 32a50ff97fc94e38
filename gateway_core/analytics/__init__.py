"""Analytics over the usage log, on DuckDB.

``queries`` holds ``Analytics`` (every query the console and API run) over the ``Filters`` of
``filters``;
``mirror`` keeps the DuckDB copy of ``usage_logs`` in step with SQLite; ``rollups`` keeps
daily aggregates and histograms; ``audit`` has the row-level views; ``votes`` summarises the
blind A/B verdicts.
"""

from .filters import DEFAULT_DAYS, Filters
from .queries import Analytics

__all__ = ["DEFAULT_DAYS", "Analytics", "Filters"]
