"""B4's PostgreSQL arm: the usage-log writer into a local PostgreSQL, against its own baseline.

A throwaway cluster is started from the server binaries (as the test suite does), tuned
only as far as a test server is (``fsync=off`` would flatter it, so this one keeps fsync
on); ``GATEWAY_BENCH_PG_URL`` points the arm at an existing server instead. Arms, in a
shuffled order, each on a fresh schema:

- ``threads``: 8 threads writing through one ``UsageLog`` (the COPY sink), rows/s from the
  first ``write`` until ``close()`` returns, i.e. committed;
- ``processes``: 4 processes, each its own ``UsageLog``, as 4 instances on one database;
- ``copy_direct`` and ``copy_staged``: the sink alone, batches of 500: COPY straight into
  ``usage_logs`` (live traffic) and COPY into the staging table then ``INSERT ... SELECT
  ... ON CONFLICT DO NOTHING`` (a spill replay, which must skip stored rows);
- ``executemany``: the same batches as one multi-row ``INSERT ... ON CONFLICT`` pipeline;
- ``baseline``: one INSERT + commit per row.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import threading
from contextlib import contextmanager

from .common import ROOT, Config, Target, clock, ratio, summarize

BATCH = 500


@contextmanager
def server(cfg: Config):
    """A PostgreSQL URL for the arm: ``GATEWAY_BENCH_PG_URL``, or a throwaway local cluster."""
    given = os.environ.get("GATEWAY_BENCH_PG_URL")
    if given:
        yield given
        return
    sys.path.insert(0, str(ROOT / "tests"))  # the suite's cluster helper, shared rather than copied
    from pg_cluster import Cluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries found (apt-get install postgresql), or set GATEWAY_BENCH_PG_URL")
    cluster = Cluster(bindir).start(durable=True)
    cfg.log(f"  PostgreSQL {bindir.parent.name} throwaway cluster on port {cluster.port} (fsync on)")
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def _schema(url: str) -> str:
    import psycopg

    from gateway_core.usage.migrations import ensure_schema

    name = f"b4_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}options=-csearch_path%3D{name}"
    ensure_schema(target)
    return target


def _count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM usage_logs").fetchone()[0]


def _threads(url: str, n_threads: int, n_rows: int, sample_row, spill_dir: str) -> dict:
    from gateway_core.usage import UsageLog

    log = UsageLog(url, queue_max_bytes=8 * 1024**3, spill_dir=spill_dir)
    per = n_rows // n_threads
    rows = [[sample_row(t * per + i, f"t{t}") for i in range(per)] for t in range(n_threads)]
    barrier = threading.Barrier(n_threads + 1)

    def worker(t: int):
        barrier.wait()
        for row in rows[t]:
            log.write(row)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = clock()
    for w in workers:
        w.join()
    log.close()
    seconds = clock() - t0
    expected = per * n_threads
    return {"rows": expected, "rows_lost": expected - _count(url), "seconds": seconds, "rows_per_s": expected / seconds}


def _processes(url: str, n_procs: int, n_rows: int, spill_dir: str) -> dict:
    from .b4_usage_log import race_writers

    per = n_rows // n_procs
    _, wall = race_writers(url, n_procs, per, spill_dir)
    expected = per * n_procs
    return {"rows": expected, "rows_lost": expected - _count(url), "seconds": wall, "rows_per_s": expected / wall}


def _batches(n_rows: int, tag: str, sample_row) -> list[list[tuple]]:
    from gateway_core.usage.schema import row_values

    rows = [row_values(sample_row(i, tag), 0.0) for i in range(n_rows)]
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def _sink(url: str, batches: list[list[tuple]], *, staged: bool) -> dict:
    from gateway_core.usage.pg_sink import PostgresSink

    sink = PostgresSink(url)
    sink.open(create=False)
    t0 = clock()
    for batch in batches:
        with sink._conn.transaction():  # the sink's own transaction body, one path at a time
            sink._insert(sink._conn, batch, not staged)
    seconds = clock() - t0
    sink.close()
    n = sum(len(b) for b in batches)
    return {"rows": n, "rows_stored": _count(url), "seconds": seconds, "rows_per_s": n / seconds}


def _executemany(url: str, batches: list[list[tuple]]) -> dict:
    from gateway_core.db import postgres
    from gateway_core.db.dialect import pyformat
    from gateway_core.usage.schema import INSERT_SQL

    conn = postgres.open_connection(url)
    sql = pyformat(INSERT_SQL)
    t0 = clock()
    for batch in batches:
        with conn.transaction():
            conn.cursor().executemany(sql, batch)
    seconds = clock() - t0
    conn.close()
    n = sum(len(b) for b in batches)
    return {"rows": n, "rows_stored": _count(url), "seconds": seconds, "rows_per_s": n / seconds}


def _baseline(url: str, n_rows: int, sample_row) -> dict:
    from gateway_core.db import postgres
    from gateway_core.db.dialect import pyformat
    from gateway_core.usage.schema import INSERT_SQL, row_values

    conn = postgres.open_connection(url)
    sql = pyformat(INSERT_SQL)
    rows = [row_values(sample_row(i, "b"), 0.0) for i in range(n_rows)]
    samples = []
    t0 = clock()
    for values in rows:
        t1 = clock()
        with conn.transaction():
            conn.execute(sql, values)
        samples.append((clock() - t1) * 1e6)
    seconds = clock() - t0
    conn.close()
    return {"rows": n_rows, "seconds": seconds, "rows_per_s": n_rows / seconds, "per_row_us": summarize(samples)}


def run_arm(cfg: Config, sizes: dict, sample_row) -> dict:
    """Every PostgreSQL arm in a shuffled order; returns their metrics by name."""
    spill = str(cfg.work_dir / "b4_pg_spill")
    arms = {
        "threads": lambda url: _threads(url, sizes["threads"], sizes["pg_rows"], sample_row, spill),
        "processes": lambda url: _processes(url, sizes["processes"], sizes["pg_rows"], spill),
        "copy_direct": lambda url: _sink(url, _batches(sizes["pg_rows"], "d", sample_row), staged=False),
        "copy_staged": lambda url: _sink(url, _batches(sizes["pg_rows"], "s", sample_row), staged=True),
        "executemany": lambda url: _executemany(url, _batches(sizes["pg_rows"], "e", sample_row)),
        "baseline": lambda url: _baseline(url, sizes["pg_baseline_rows"], sample_row),
    }
    order = list(arms)
    random.Random().shuffle(order)
    out: dict = {"order": order}
    with server(cfg) as url:
        for name in order:
            out[name] = arms[name](_schema(url))
            cfg.log(f"  postgresql {name}: {out[name]['rows_per_s']:,.0f} rows/s ({out[name]['rows']:,} rows)")
    for name in order:
        if name != "baseline":
            out[name]["ratio_vs_baseline"] = ratio(out[name]["rows_per_s"], out["baseline"]["rows_per_s"])
    return out


def targets(sizes: dict, pg: dict, rows_per_s: float) -> list[Target]:
    return [
        Target(
            f"rows/s into PostgreSQL, {sizes['threads']} threads",
            pg["threads"]["rows_per_s"],
            rows_per_s,
            "rows/s",
            at_least=True,
        ),
        Target("rows lost, PostgreSQL threads / processes", pg["threads"]["rows_lost"] + pg["processes"]["rows_lost"], 0, "rows"),
    ]


def headline(sizes: dict, pg: dict) -> str:
    return (
        f"PostgreSQL: {pg['threads']['rows_per_s']:,.0f} rows/s from {sizes['threads']} threads, "
        f"{pg['processes']['rows_per_s']:,.0f} from {sizes['processes']} processes vs {pg['baseline']['rows_per_s']:,.0f} "
        f"one-commit-per-row (x{pg['threads']['ratio_vs_baseline']}); sink alone: COPY {pg['copy_direct']['rows_per_s']:,.0f}, "
        f"COPY+staging {pg['copy_staged']['rows_per_s']:,.0f}, executemany {pg['executemany']['rows_per_s']:,.0f} rows/s"
    )
