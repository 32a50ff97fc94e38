"""The governance store interface: what keys, teams, budgets and rate limits need from a database.

Everything that must hold under concurrency is one method that the store makes atomic:
``admit`` checks every rate limit and reserves every budget of a request in one step, or
changes nothing; ``settle`` and ``release`` end a reservation. The store decides nothing
itself: rate decisions come from the pure ``ratelimit.gcra`` applied to the state it reads
under its write lock, and a reservation is a conditional update that encodes the pure rule
``budgets.fits`` (``spent + reserved + need <= limit``), never a read followed by a write.
SQLite implements it today (``SQLiteGovernanceStore``); a PostgreSQL store implements the
same methods with ``SELECT ... FOR UPDATE`` on the rate rows and ``UPDATE ... RETURNING``
on the ledger.

A reservation lives until it is settled or released, across restarts. One left behind by
a process killed mid-request is marked expired by ``sweep`` after its ``expires_at``,
which gives its money back; a settle that arrives later still records its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .budgets import BudgetLimit
from .ratelimit import RateDecision, RateLimit
from .records import KeyRecord, TeamRecord


@dataclass(frozen=True)
class BudgetCharge:
    """Reserve ``amount_q`` on ``budget`` in the period that starts on ``period_start``."""

    budget: BudgetLimit
    period_start: str
    amount_q: int


@dataclass(frozen=True)
class AdmitTicket:
    reservation_id: str
    now: float
    expires_at: float
    rates: tuple[tuple[RateLimit, int], ...]  # (limit, cost) pairs
    charges: tuple[BudgetCharge, ...]


@dataclass(frozen=True)
class LedgerState:
    """A budget line as it stood just before this request's reservation."""

    charge: BudgetCharge
    spent_q: int
    reserved_q: int


@dataclass(frozen=True)
class AdmitOutcome:
    """What ``admit`` did: everything (``admitted``) or nothing, and why not."""

    admitted: bool
    rates: tuple[tuple[RateLimit, RateDecision], ...] = ()
    budgets: tuple[LedgerState, ...] = ()
    refused_rate: tuple[RateLimit, RateDecision] | None = None
    refused_budget: LedgerState | None = None


class GovernanceStore(Protocol):
    # keys and teams ---------------------------------------------------------------------
    def insert_key(self, key: KeyRecord) -> None:
        """Insert ``key``, creating its team without limits if needed; ``ValidationError('name')`` if taken."""

    def key_with_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]: ...

    def key_by_name(self, name: str) -> KeyRecord | None: ...

    def keys(self) -> list[KeyRecord]: ...

    def revoke_key(self, name: str, reason: str | None, at: float) -> KeyRecord | None:
        """Revoke by name (a key already revoked keeps its first reason); None if unknown."""

    def put_team(self, team: TeamRecord) -> None: ...

    def team(self, name: str) -> TeamRecord | None: ...

    def teams(self) -> list[TeamRecord]: ...

    # atomic budget and rate steps -------------------------------------------------------
    def admit(self, ticket: AdmitTicket) -> AdmitOutcome: ...

    def settle(self, reservation_id: str, actual_q: int, day: str) -> int:
        """Replace the reservation with ``actual_q`` on each of its budgets; returns lines settled.

        A second settle or a settle after release changes nothing."""

    def release(self, reservation_id: str) -> int: ...

    def sweep(self, now: float, forget_before: float) -> int:
        """Expire reservations past ``expires_at`` (their money is freed); forget expired ones
        older than ``forget_before``. Returns how many expired now."""

    # reads for burn-down ----------------------------------------------------------------
    def ledger(self, scope: str, period_start: str) -> tuple[int, int]:
        """``(spent_q, reserved_q)`` of one budget period; zeros if it has none yet."""

    def daily_spend(self, scope: str, since_day: str) -> list[tuple[str, int]]: ...

    def close(self) -> None: ...
