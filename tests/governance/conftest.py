"""Governance test set-up: a real SQLite usage database per test and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway_core.governance import Governance

# A Wednesday in mid-April: day, week and month periods are all well inside their bounds.
START = datetime(2026, 4, 15, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "usage.sqlite"


@pytest.fixture
def gov(db, clock):
    g = Governance.open(db, clock=clock, static_keys=("static-key-one", "static-key-two"))
    yield g
    g.close()
