"""The usage log, the gateway's system of record: one SQLite row per provider attempt.

``writer`` queues rows and hands batches to ``storage`` on a background thread, which
commits them through a ``sink`` (``sqlite_sink``) or, while the database fails, appends
them to ``spill`` files and replays them later; ``health`` holds the states and the
serve/refuse rule. ``schema`` defines the columns and connections; ``migrations`` creates
and evolves the tables; ``rows`` builds a request's rows from its plan and attempts;
``votes`` stores A/B verdicts; ``demo_history`` writes synthetic traffic.
"""

from .health import LogHealth
from .migrations import MIGRATIONS, ensure_schema, migrate
from .writer import LogStartError, UsageLog

__all__ = ["MIGRATIONS", "LogHealth", "LogStartError", "UsageLog", "ensure_schema", "migrate"]
