"""B8: what governance adds to a request in process: authenticate, admit (reserve) and settle.

Every arm runs against a real SQLite usage database in WAL mode, as the gateway will. The
baseline is the path a request takes with no limits configured (the facade returns at once
without touching the store), so "added" is what turning governance on costs. Arms:

- ``baseline``: admit + settle for a principal with no budget and no rate limit;
- ``budget``: admit + settle under a team budget alone;
- ``typical``: admit + settle under a team budget and the key's requests/tokens per minute;
- ``full``: admit + settle under a key budget and a team budget, and four rate limits;
- ``authenticate``: one virtual key looked up and verified (no principal is cached);
- ``auth_full``: authenticate, then the ``full`` admit + settle: the whole per-request cost;
- ``sqlite_write``: the floor under all of it, one write transaction of one ``UPDATE`` on the
  same file, through a connection of its own (what any durable, shared admission must pay).

Each iteration runs every arm once, in a freshly shuffled order, so drift on a shared
machine hits all arms alike; the figures are medians of raw per-call samples.

The second half (``_b8_gateway``) measures the same checks where they run, inside
``Gateway.generate`` with instant providers: each kind of key against a request made
without one.
"""

from __future__ import annotations

import random
from decimal import Decimal

from . import _b8_gateway, common
from .common import Config, Target, clock, summarize

ID = "B8"
NAME = "b8_governance"
TITLE = "Governance checks (authenticate, admit, settle) against no governance, on SQLite and in Gateway.generate"

SIZES = {
    "smoke": {"iterations": 200, "warmup": 50, **_b8_gateway.GATEWAY_SIZES["smoke"]},
    "quick": {"iterations": 5000, "warmup": 500, **_b8_gateway.GATEWAY_SIZES["quick"]},
    "full": {"iterations": 50000, "warmup": 2000, **_b8_gateway.GATEWAY_SIZES["full"]},
}
TARGET_ADDED_P50_US = 50.0
WORST = Decimal("0.0012")
ACTUAL = Decimal("0.0007")
ARMS = ("baseline", "budget", "typical", "full", "authenticate", "auth_full", "sqlite_write")


def _setup(db):
    from gateway_core.governance import Governance

    gov = Governance.open(db)
    full_key = _b8_gateway.seed_keys(gov)
    principals = {name: gov.principal_for(f"{name}-key") for name in ("open", "budget", "typical", "full")}
    assert principals["open"].budgets == () and principals["open"].rates == ()
    assert len(principals["full"].budgets) == 2 and len(principals["full"].rates) == 4
    return gov, principals, full_key


def _floor(db):
    """One write transaction of one UPDATE on the same file: the physical floor of an admission."""
    from gateway_core.usage import schema as usage_schema

    conn = usage_schema.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    conn.execute("INSERT OR IGNORE INTO bench_floor (id, n) VALUES (1, 0)")

    def write():
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE bench_floor SET n = n + 1 WHERE id = 1")
        conn.execute("COMMIT")

    return conn, write


def _arms(gov, principals: dict, full_key: str) -> dict:
    def admit_settle(principal):
        def run():
            gov.settle(gov.admit(principal, candidates_worst_case=WORST, tokens=700), ACTUAL)

        return run

    full = admit_settle(principals["full"])

    def auth_full():
        p = gov.authenticate(full_key)
        gov.settle(gov.admit(p, candidates_worst_case=WORST, tokens=700), ACTUAL)

    return {
        "baseline": admit_settle(principals["open"]),
        "budget": admit_settle(principals["budget"]),
        "typical": admit_settle(principals["typical"]),
        "full": full,
        "authenticate": lambda: gov.authenticate(full_key),
        "auth_full": auth_full,
    }


def _collect(cfg: Config, sizes: dict) -> tuple[dict, Decimal]:
    """Samples per arm, and what the ledger holds for the strict team once every settle is applied."""
    db = cfg.work_dir / "b8_governance.sqlite"
    gov, principals, full_key = _setup(db)
    floor_conn, floor = _floor(db)
    try:
        arms = _arms(gov, principals, full_key)
        arms["sqlite_write"] = floor
        samples = common.warm_shuffled_rounds_us(arms, sizes["iterations"], sizes["warmup"], random.Random(8))
        spent = gov.burn_down("strict").spent_usd
    finally:
        gov.close()
        floor_conn.close()
    return samples, spent


def _headlines(added: dict, base: float, floor_p50: float, n: int, gw: dict) -> list[str]:
    g, stats = gw["added_p50_us"], gw["us_per_call"]
    return [
        f"through Gateway.generate, a key with a team budget and its own rpm+tpm adds {g['key_typical']:.1f} µs at p50 "
        f"over a request without a key ({stats['no_key']['p50']:.0f} µs, whose own governance steps take "
        f"{stats['gate_no_key']['p50']:.1f} µs); a budget alone {g['key_budget']:.1f} µs, two budgets and four rate "
        f"limits {g['key_full']:.1f} µs, a key with no limits {g['key_no_limits']:.1f} µs",
        f"admit+settle adds {added['budget']:.1f} µs at p50 under a team budget alone, {added['typical']:.1f} µs "
        f"with the key's rpm+tpm too, and {added['full']:.1f} µs with two budgets and four rate limits; "
        f"authenticating a key adds {added['authenticate']:.1f} µs (baseline {base:.1f} µs, SQLite WAL, n={n})",
        f"one bare SQLite write transaction on the same file took {floor_p50:.1f} µs at p50 in the same run: "
        f"the typical admission costs {common.ratio(added['typical'], floor_p50)}x that floor",
    ]


NOTES = [
    "The usage-log writer was idle: in a gateway it shares the SQLite write lock, so contention adds to these "
    "figures under load (B4 measures that writer).",
    "Settles are queued and applied in batches by a background thread, so admit+settle is one write transaction "
    "per request; authenticate is served by its 5 s principal cache.",
]


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t_start = clock()
    samples, spent = _collect(cfg, sizes)
    gateway = _b8_gateway.measure(cfg, sizes)
    stats = {name: summarize(values) for name, values in samples.items()}
    base = stats["baseline"]["p50"]
    added = {name: stats[name]["p50"] - base for name in ARMS if name != "baseline"}
    floor_p50 = stats["sqlite_write"]["p50"]
    settled = sizes["iterations"] + sizes["warmup"]
    metrics = {
        "us_per_call": stats,
        "added_p50_us": added,
        "ratio_p50": {name: common.ratio(stats[name]["p50"], base) for name in ARMS if name != "baseline"},
        "typical_over_sqlite_write_p50": common.ratio(added["typical"], floor_p50),
        # Every full and auth_full call settled ACTUAL on the strict team: the ledger must show all of them.
        "settled_calls_strict_team": settled * 2,
        "strict_team_spent_usd": float(spent),
        "strict_team_spent_expected_usd": float(ACTUAL * settled * 2),
        "gateway": gateway,
    }
    for name in ARMS:
        s = stats[name]
        added_text = "" if name == "baseline" else f"  added p50 {added[name]:+7.1f} µs"
        cfg.log(f"  {name:13} p50 {s['p50']:7.1f} µs  p90 {s['p90']:7.1f} µs  p99 {s['p99']:7.1f} µs{added_text}")
    targets = [
        Target("added p50, admit+settle (team budget, key rpm+tpm)", added["typical"], TARGET_ADDED_P50_US, "µs"),
        Target("added p50, admit+settle (2 budgets, 4 rate limits)", added["full"], TARGET_ADDED_P50_US, "µs"),
        Target(
            "added p50 in Gateway.generate (team budget, key rpm+tpm)",
            gateway["added_p50_us"]["key_typical"],
            TARGET_ADDED_P50_US,
            "µs",
        ),
    ]
    common.report_targets(cfg, targets)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics=metrics,
        targets=targets,
        notes=NOTES,
        duration_s=clock() - t_start,
        headlines=_headlines(added, base, floor_p50, sizes["iterations"], gateway),
    )
