"""``gateway db migrate`` and ``gateway db copy``: moving a SQLite log into PostgreSQL, verified.

A SQLite log with everything a deployment accumulates (usage rows, a refusal, keys, teams,
a budget ledger, audit entries, an imported bill) is copied; the copy is checked by counts
and sums per table, a second run adds nothing, and a gateway on the copy carries on: the
copied key authenticates, its spend is there, and new rows get ids past the copied ones.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from dbq import count, one
from gateway_fixtures import demo_gateway

from gateway_core import GenerateRequest
from gateway_core.analytics import Analytics
from gateway_core.analytics.bill_demo import write_demo_bills
from gateway_core.analytics.billing import import_bill
from gateway_core.cli import main
from gateway_core.db.copy import TableSummary, verify
from gateway_core.governance import AuditLog, Governance
from gateway_core.pricing import PriceTable
from gateway_core.usage.demo_history import seed_demo


def _summary(table: str, rows: int, *sums: tuple[str, float]) -> TableSummary:
    return TableSummary(table, rows, tuple(sums))


@pytest.mark.parametrize(
    "target, problems",
    [
        ([_summary("usage_logs", 3, ("cost_usd", 0.3))], []),
        ([_summary("usage_logs", 3, ("cost_usd", 0.1 + 0.2))], []),  # summed in another order
        ([_summary("usage_logs", 2, ("cost_usd", 0.3))], ["usage_logs: 3 rows in the source, 2 in the target"]),
        ([_summary("usage_logs", 3, ("cost_usd", 0.31))], ["usage_logs.cost_usd: sums to 0.3 in the source, 0.31 in the target"]),
        ([], ["usage_logs: missing from the target"]),
    ],
)
def test_verify_names_every_table_whose_rows_or_sums_differ(target, problems):
    assert verify([_summary("usage_logs", 3, ("cost_usd", 0.3))], target) == problems


@pytest.fixture
def sqlite_log(tmp_path):
    """A SQLite log holding every kind of row a deployment accumulates."""
    db = tmp_path / "usage.sqlite"
    seed_demo(db, days=5, requests=400, seed=2)
    with Governance.open(db) as gov:
        gov.set_team("ml", budget_usd=Decimal("5"))
        _, key = gov.create_key(name="ci-bot", team="ml")
        gov.settle(gov.admit(gov.authenticate(key), candidates_worst_case=Decimal("0.5"), tokens=10), Decimal("0.125"))
    AuditLog(db, source="cli").record("root@host", "team.changed", "ml", {"budget_usd": [None, "5"]})
    gw = demo_gateway(db)
    try:
        gw.generate(GenerateRequest(prompt="a real request before the move"))
    finally:
        gw.close()
    an = Analytics(db, max_staleness_s=0.0)
    try:
        for path in write_demo_bills(an, PriceTable.load(), tmp_path / "bills", days=3):
            import_bill(db, path)
    finally:
        an.close()
    return db, key


def test_copy_moves_every_table_verifies_it_and_a_second_run_adds_nothing(sqlite_log, pg_url, capsys):
    db, key = sqlite_log
    assert main(["db", "copy", "--from", f"sqlite:{db}", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "copy verified" in out
    tables = ("usage_logs", "api_keys", "teams", "budget_ledger", "admin_audit", "bill_imports", "bill_lines")
    counts = {t: count(pg_url, t) for t in tables}
    assert all(counts.values()), counts
    assert counts["usage_logs"] == count(db) > 400
    assert one(pg_url, "SELECT sum(cost_usd) FROM usage_logs")[0] == pytest.approx(
        one(db, "SELECT sum(cost_usd) FROM usage_logs")[0]
    )

    assert main(["db", "copy", "--from", f"sqlite:{db}", "--to", pg_url]) == 0
    assert {t: count(pg_url, t) for t in tables} == counts, "a second copy adds nothing"

    with Governance.open(pg_url) as gov:  # the copied key works, and its team's spend came along
        assert gov.authenticate(key).team == "ml"
        assert gov.burn_down("ml").spent_usd == Decimal("0.125")
    (before,) = one(pg_url, "SELECT max(id) FROM usage_logs")
    gw = demo_gateway(pg_url)
    try:
        r = gw.generate(GenerateRequest(prompt="the first request after the move"))
    finally:
        gw.close()
    assert one(pg_url, "SELECT id FROM usage_logs WHERE request_id = ?", (r.request_id,))[0] > before


def test_copy_refuses_a_source_that_is_not_a_sqlite_file_naming_the_option(tmp_path, pg_url, capsys):
    assert main(["db", "copy", "--from", f"sqlite:{tmp_path / 'absent.sqlite'}", "--to", pg_url]) == 2
    assert "--from" in capsys.readouterr().err
    assert main(["db", "copy", "--from", f"sqlite:{tmp_path}", "--to", "mysql://x"]) == 2


def test_migrate_applies_every_step_once_and_then_says_up_to_date(pg_url, capsys):
    assert main(["db", "migrate", "--url", pg_url]) == 0
    first = capsys.readouterr().out
    assert "applied m001_initial" in first and "m010_attempt_key" in first
    assert main(["db", "migrate", "--url", pg_url]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert count(pg_url, "migrations") == first.count("m0")
