"""Usage-log health: the writer's state, its counters, and the pure rules read from them.

The writer is in one of three states::

    ok        rows reach the database
    spilling  the database refuses writes; each batch goes to a spill file on disk and is
              replayed, in order, once the database takes writes again: nothing is lost
    failing   neither the database nor the spill directory takes rows: they wait in memory,
              within the queue bound, and rows beyond the bound are lost

What happens to a request when nothing can be stored is the *policy*: ``serve`` answers
and counts the lost rows loudly; ``refuse`` turns new requests away with
``audit_log_unavailable`` before any provider is called. ``admits`` is that rule;
``LogHealth`` is the snapshot ``/readyz`` and the console banner show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, SPILLING, FAILING = "ok", "spilling", "failing"
POLICIES = ("serve", "refuse")


def admits(policy: str, state: str, queue_full: bool) -> bool:
    """Whether a new request may start: under ``refuse``, only while its rows can be kept."""
    if policy == "serve":
        return True
    return state != FAILING and not queue_full


@dataclass(frozen=True)
class LogHealth:
    """One consistent look at the writer, safe to show anywhere (no paths, no content)."""

    state: str
    policy: str
    problem: str | None  # the database's trouble, e.g. "full: the database or its disk is full"
    spill_problem: str | None  # the spill directory's trouble, when it has one
    queue_depth: int  # rows waiting in memory (queued and held)
    queue_mb: float
    queue_limit_mb: float
    spilled_pending: int  # rows in spill files, waiting for the database
    spilled_total: int  # rows this process has spilled since it started
    replayed_total: int  # spilled rows this process has committed since
    lost_total: int  # rows this process could store nowhere

    @property
    def degraded(self) -> bool:
        return self.state != OK or self.lost_total > 0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One sentence for a banner or a log line."""
        if self.state == OK:
            head = "The usage log is writing normally"
        elif self.state == SPILLING:
            head = f"The usage log database is failing ({self.problem}); rows are spilling to disk"
        else:
            head = f"The usage log cannot store rows: database ({self.problem}), spill ({self.spill_problem})"
        counts = f"{self.spilled_pending:,} rows waiting in spill files, {self.lost_total:,} lost, {self.queue_depth:,} queued in memory"
        return f"{head}. {counts}."
