"""The usage log, the gateway's system of record: one SQLite row per provider attempt.

``writer`` queues rows and commits them on a background thread; ``schema`` defines the
columns and connections; ``migrations`` creates and evolves the tables; ``rows`` builds a
request's rows from its plan and attempts; ``demo_history`` writes synthetic traffic.
"""

from .migrations import MIGRATIONS, ensure_schema, migrate
from .writer import UsageLog

__all__ = ["MIGRATIONS", "UsageLog", "ensure_schema", "migrate"]
