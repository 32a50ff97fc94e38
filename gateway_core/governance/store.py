"""The governance store interface: what keys, teams, budgets and rate limits need from a database.

Everything that must hold under concurrency is one method that the store makes atomic:
``admit`` checks every rate limit and reserves every budget of a request in one step, or
changes nothing; ``end_reservations`` settles or releases a batch. The store decides nothing
itself: rate decisions come from the pure ``ratelimit.gcra`` applied to the state it reads
under its write lock, and a reservation is a conditional update that encodes the pure rule
``budgets.fits`` (``spent + reserved + need <= limit``), never a read followed by a write.
SQLite implements it today (``SQLiteGovernanceStore``); a PostgreSQL store implements the
same methods with ``SELECT ... FOR UPDATE`` on the rate rows and ``UPDATE ... RETURNING``
on the ledger. The values crossing this seam are named tuples: they are built on every
request, and a frozen dataclass costs five times as much to construct.

A reservation lives until it ends (settled at its actual cost, or released at zero), across
restarts. One left behind by a process killed mid-request is expired by ``sweep`` after its
``expires_at`` and charged at its worst case: the provider may have billed it, and a hard
budget must not undercount. If its request does end after all, that charge is corrected
to the actual cost; an expired reservation is forgotten a day later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from .budgets import BudgetLimit
from .ratelimit import RateDecision, RateLimit
from .records import KeyRecord, TeamRecord
from .settlement import End


class BudgetCharge(NamedTuple):
    """Reserve ``amount_q`` on ``budget`` in the period that starts on ``period_start``."""

    budget: BudgetLimit
    period_start: str
    amount_q: int


class AdmitTicket(NamedTuple):
    key_id: str | None  # checked still active in the same step; None for a static key
    reservation_id: str
    now: float
    expires_at: float
    rates: tuple[tuple[RateLimit, int], ...]  # (limit, cost) pairs
    charges: tuple[BudgetCharge, ...]


class LedgerState(NamedTuple):
    """A budget line as it stood just before this request's reservation."""

    charge: BudgetCharge
    spent_q: int
    reserved_q: int


class AdmitOutcome(NamedTuple):
    """What ``admit`` did: everything (``admitted``) or nothing, and why not."""

    admitted: bool
    rates: tuple[tuple[RateLimit, RateDecision], ...] = ()
    budgets: tuple[LedgerState, ...] = ()
    refused_rate: tuple[RateLimit, RateDecision] | None = None
    refused_budget: LedgerState | None = None
    refused_key: tuple[str, str | None] | None = None  # ("revoked", reason), ("expired", None), ("missing", None)


class GovernanceStore(Protocol):
    # keys and teams ---------------------------------------------------------------------
    def insert_key(self, key: KeyRecord) -> None:
        """Insert ``key``, creating its team without limits if needed; ``ValidationError('name')`` if taken."""

    def key_with_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]: ...

    def key_by_name(self, name: str) -> KeyRecord | None: ...

    def keys(self) -> list[KeyRecord]: ...

    def has_keys(self) -> bool:
        """Whether any key was ever created (revoked and expired ones count)."""

    def revoke_key(self, name: str, reason: str | None, at: float) -> KeyRecord | None:
        """Revoke by name (a key already revoked keeps its first reason); None if unknown."""

    def put_team(self, team: TeamRecord) -> None: ...

    def team(self, name: str) -> TeamRecord | None: ...

    def teams(self) -> list[TeamRecord]: ...

    # atomic budget and rate steps -------------------------------------------------------
    def admit(self, ticket: AdmitTicket, ends: Sequence[End] = ()) -> AdmitOutcome:
        """Apply ``ends`` (queued settles), then check and reserve ``ticket`` in the same step.

        On refusal nothing is kept, ``ends`` included: the caller applies them again."""

    def end_reservations(self, ends: Sequence[End]) -> int:
        """End each ``(reservation id, actual cost in quanta)``: the reservation is replaced by the
        actual cost on each of its budgets (0 releases it). Returns how many budget periods
        changed; a reservation already ended changes nothing."""

    def sweep(self, now: float, forget_before: float) -> int:
        """Expire reservations past ``expires_at``, charging their worst case; forget
        expired ones older than ``forget_before``. Returns how many expired now."""

    # reads for burn-down ----------------------------------------------------------------
    def ledger(self, scope: str, period_start: str) -> tuple[int, int]:
        """``(spent_q, reserved_q)`` of one budget period; zeros if it has none yet."""

    def ping(self) -> None:
        """Read something cheap; raise if the storage cannot be reached."""

    def close(self) -> None: ...
