"""Governance: virtual API keys, teams, budgets that hold under concurrency, and rate limits.

``Governance`` is the facade a request pipeline and the admin surfaces use; the arithmetic
lives in pure modules (``budgets``, ``ratelimit``, ``records``) and the state behind the
``GovernanceStore`` interface, implemented on the usage database's SQLite file.
"""

from .admin import KEEP
from .audit_log import AuditLog
from .budgets import PERIODS, BudgetLimit, BudgetStatus, WorstCase, worst_case
from .keys import KEY_PREFIX
from .ratelimit import RateLimit
from .records import STATIC_TEAM, KeyRecord, Principal, TeamRecord
from .schema import MIGRATION_STEPS
from .service import Admission, Governance
from .sqlite_store import SQLiteGovernanceStore
from .store import GovernanceStore

__all__ = [
    "Admission",
    "AuditLog",
    "BudgetLimit",
    "BudgetStatus",
    "Governance",
    "GovernanceStore",
    "KEEP",
    "KEY_PREFIX",
    "KeyRecord",
    "MIGRATION_STEPS",
    "PERIODS",
    "Principal",
    "RateLimit",
    "SQLiteGovernanceStore",
    "STATIC_TEAM",
    "TeamRecord",
    "WorstCase",
    "worst_case",
]
