"""What a finished request is settled at: the billed attempts' summed cost, as a table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway_core.gate import billed
from gateway_core.types import Attempt, Usage

USAGE = Usage(100, 20)


def attempt(status: str, usage=None, cost=None) -> Attempt:
    return Attempt("azure", "gpt-4o-mini", status, 1.0, usage=usage, cost_usd=None if cost is None else Decimal(cost))


@pytest.mark.parametrize(
    "attempts, expected",
    [
        ([], (False, None)),
        ([attempt("error")], (False, None)),  # failed before any usage: nothing billed, release
        ([attempt("error"), attempt("error")], (False, None)),
        ([attempt("ok", USAGE, "0.002")], (True, Decimal("0.002"))),
        ([attempt("error"), attempt("ok", USAGE, "0.002")], (True, Decimal("0.002"))),  # failover: the answer
        ([attempt("error", USAGE, "0.001"), attempt("ok", USAGE, "0.002")], (True, Decimal("0.003"))),  # both billed
        ([attempt("error", USAGE, "0.0004")], (True, Decimal("0.0004"))),  # a cancelled stream's delivered part
        ([attempt("ok", USAGE, None)], (True, None)),  # billed at an unknown cost: the worst case holds
        ([attempt("ok", USAGE, "0")], (True, Decimal("0"))),
    ],
)
def test_settle_amount(attempts, expected):
    assert billed(attempts) == expected
