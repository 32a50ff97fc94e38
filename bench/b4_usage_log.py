"""B4: usage-log throughput and request-path cost, from 8 threads and from 4 processes.

``UsageLog.write`` is what a request pays; a background thread batches the commits. The
threads share one ``UsageLog`` as the API and console do; the processes each open their
own on one file, as several gateway workers on a host do, so they contend for SQLite's
write lock and must retry rather than drop. Throughput runs from the first ``write`` to
the end of ``close()`` (everything committed). Every phase counts the rows in the file
afterwards: expected minus written is rows lost. The baseline is the naive alternative
measured in the same run: one INSERT plus commit per row, in WAL with synchronous=NORMAL.

The writer's in-memory queue is bounded in bytes; these phases enqueue far faster than any
request path could (80k rows in half a second), so they raise the bound to the whole run
to measure throughput, not the bound. A last phase measures what the bound is made of:
the memory one queued row takes, from real gateway requests whose rows wait behind a
held database lock, against the ``ROW_BYTES`` each row is charged.
"""

from __future__ import annotations

import gc
import multiprocessing
import sqlite3
import threading
import time
import tracemalloc
from pathlib import Path

from . import b4_postgres, common
from .common import Config, Target, clock, summarize

ID = "B4"
NAME = "b4_usage_log"
TITLE = "Usage-log throughput (8 threads, 4 processes) against one INSERT+commit per row"

SIZES = {
    "smoke": {
        "threads": 8,
        "thread_rows": 2_000,
        "processes": 2,
        "process_rows": 1_000,
        "baseline_rows": 300,
        "memory_rows": 200,
        "pg_rows": 2_000,
        "pg_baseline_rows": 200,
    },
    "quick": {
        "threads": 8,
        "thread_rows": 80_000,
        "processes": 4,
        "process_rows": 40_000,
        "baseline_rows": 4_000,
        "memory_rows": 3_000,
        "pg_rows": 80_000,
        "pg_baseline_rows": 4_000,
    },
    "full": {
        "threads": 8,
        "thread_rows": 800_000,
        "processes": 4,
        "process_rows": 400_000,
        "baseline_rows": 50_000,
        "memory_rows": 10_000,
        "pg_rows": 400_000,
        "pg_baseline_rows": 20_000,
    },
}
UNBOUNDED = 8 * 1024**3  # the throughput phases measure the writer, not the queue's bound
TARGET_ROWS_PER_S = 50_000
TARGET_WRITE_P50_US = 5.0


def sample_row(i: int, tag: str = "t") -> dict:
    """A row shaped like the gateway's own attempt rows (about 30 filled columns)."""
    return {
        "ts": "2025-01-15 10:00:00.000000",
        "request_id": f"req_{tag}_{i:012d}",
        "attempt": 1,
        "final": 1,
        "user": f"user{i % 50}",
        "task": "chat",
        "priority": "balanced",
        "provider_hint": None,
        "route_reason": "balanced: azure/gpt-4o-mini scored 0.31 vs bedrock/haiku 0.44",
        "provider": "azure" if i % 2 else "bedrock",
        "model": "gpt-4o-mini" if i % 2 else common.HAIKU,
        "prompt_tokens_est": 96,
        "completion_tokens_est": 250,
        "total_tokens_est": 346,
        "estimate_raw_tokens": 96,
        "cost_est_usd": 0.0001644,
        "input_tokens": 96,
        "output_tokens": 212,
        "cached_input_tokens": 0,
        "cost_usd": 0.0001416,
        "unpriced": 0,
        "token_source": "provider",
        "counterfactual_provider": "bedrock",
        "counterfactual_model": common.HAIKU,
        "counterfactual_cost_usd": 0.000289,
        "latency_ms": 812.5,
        "ttft_ms": None,
        "streamed": 0,
        "status": "ok",
        "price_version": "2025-01-01",
    }


def _count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM usage_logs").fetchone()[0]
    finally:
        con.close()


def _threads(cfg: Config, n_threads: int, n_rows: int, db: Path) -> dict:
    from gateway_core.usage import UsageLog

    log = UsageLog(db, queue_max_bytes=UNBOUNDED)
    per = n_rows // n_threads
    rows = [[sample_row(t * per + i, f"t{t}") for i in range(per)] for t in range(n_threads)]
    samples: list[list[float]] = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads + 1)

    def worker(t: int):
        out, write = samples[t], log.write
        barrier.wait()
        for row in rows[t]:
            t0 = clock()
            write(row)
            out.append((clock() - t0) * 1e6)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = clock()
    for th in threads:
        th.join()
    t_enqueued = clock() - t0
    log.close()
    t_total = clock() - t0
    written = _count(db)
    expected = per * n_threads
    write_us = summarize([s for part in samples for s in part])
    cfg.log(
        f"  {n_threads} threads: {expected:,} rows, {expected / t_total:,.0f} rows/s committed, "
        f"write() p50 {write_us['p50']:.2f} us p99 {write_us['p99']:.2f} us, lost {expected - written}"
    )
    return {
        "rows_expected": expected,
        "rows_written": written,
        "rows_lost": expected - written,
        "seconds_to_enqueue": t_enqueued,
        "seconds_to_commit": t_total,
        "rows_per_s": expected / t_total,
        "write_us": write_us,
        "writer_stats": log.stats(),
    }


def _process_writer(db: str, tag: str, n: int, ready, go, results, spill_dir: str | None = None) -> None:
    """One gateway-like process: its own UsageLog on the shared file (or PostgreSQL database)."""
    from gateway_core.usage import UsageLog

    log = UsageLog(db, queue_max_bytes=UNBOUNDED, spill_dir=spill_dir)
    rows = [sample_row(i, tag) for i in range(n)]
    ready.put(tag)
    go.wait()
    samples = []
    t_start = time.time()
    for row in rows:
        t0 = clock()
        log.write(row)
        samples.append((clock() - t0) * 1e6)
    log.close()
    results.put(
        {
            "tag": tag,
            "start": t_start,
            "end": time.time(),
            "write_us_p50": summarize(samples)["p50"],
            "retries": log.stats()["retries"],
        }
    )


def race_writers(db: str, n_procs: int, per: int, spill_dir: str | None = None) -> tuple[list[dict], float]:
    """``n_procs`` spawned writer processes, released together; their reports and the wall time
    from the first write to the last ``close()``."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_process_writer, args=(db, f"p{i}", per, ready, go, results, spill_dir)) for i in range(n_procs)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    reports = [results.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(30)
    return reports, max(r["end"] for r in reports) - min(r["start"] for r in reports)


def _processes(cfg: Config, n_procs: int, n_rows: int, db: Path) -> dict:
    from gateway_core.usage import UsageLog

    UsageLog(db).close()  # schema first, so the timed part is only writing
    per = n_rows // n_procs
    reports, wall = race_writers(str(db), n_procs, per)
    expected = per * n_procs
    written = _count(db)
    cfg.log(
        f"  {n_procs} processes: {expected:,} rows, {expected / wall:,.0f} rows/s committed, "
        f"lock retries {sum(r['retries'] for r in reports)}, lost {expected - written}"
    )
    return {
        "rows_expected": expected,
        "rows_written": written,
        "rows_lost": expected - written,
        "seconds_to_commit": wall,
        "rows_per_s": expected / wall,
        "write_us_p50_per_process": [r["write_us_p50"] for r in reports],
        "lock_retries": sum(r["retries"] for r in reports),
    }


def _baseline(cfg: Config, n_rows: int, db: Path) -> dict:
    """One INSERT + commit per row, WAL + synchronous=NORMAL: the simplest correct writer."""
    from gateway_core.usage import UsageLog

    UsageLog(db).close()
    cols = list(sample_row(0))
    sql = f"INSERT INTO usage_logs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    rows = [tuple(sample_row(i, "b").values()) for i in range(n_rows)]
    samples = []
    t0 = clock()
    for values in rows:
        t1 = clock()
        con.execute("BEGIN")
        con.execute(sql, values)
        con.execute("COMMIT")
        samples.append((clock() - t1) * 1e6)
    total = clock() - t0
    con.close()
    per_row = summarize(samples)
    cfg.log(
        f"  baseline insert+commit per row: {n_rows / total:,.0f} rows/s, p50 {per_row['p50']:.1f} us p99 {per_row['p99']:.1f} us"
    )
    return {"rows": n_rows, "rows_written": _count(db), "rows_per_s": n_rows / total, "per_row_us": per_row}


def _queued_row_memory(cfg: Config, n_requests: int, db: Path) -> dict:
    """Bytes one queued row holds, from real requests whose rows wait behind a held lock."""
    from gateway_core import GenerateRequest
    from gateway_core.gateway import Gateway
    from gateway_core.usage.schema import connect
    from gateway_core.usage.storage import ROW_BYTES

    gw = Gateway.from_env(common.demo_env(db, GATEWAY_DB_BUSY_TIMEOUT_S="600"), dotenv_path=None)
    blocker = connect(db)
    try:
        for i in range(50):  # warm caches and statistics windows before counting
            gw.generate(GenerateRequest(prompt=f"warm-up {i}"))
        assert gw.usage_log.flush()
        blocker.execute("BEGIN IMMEDIATE")
        gw.generate(GenerateRequest(prompt="the writer takes this row and waits on the lock"))
        time.sleep(0.2)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(n_requests):
            gw.generate(GenerateRequest(prompt=f"Question {i}: how does cost-aware routing choose?", user=f"user{i % 9}"))
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        queued = gw.usage_log.health().queue_depth
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        gw.close()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_row = grown / n_requests
    cfg.log(
        f"  queued row: {per_row:,.0f} bytes measured (everything a request leaves in memory while its row waits), "
        f"charged {ROW_BYTES:,}; {queued:,} rows were waiting"
    )
    return {"requests": n_requests, "rows_waiting": queued, "bytes_per_queued_row": per_row, "charged_bytes_per_row": ROW_BYTES}


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t0 = clock()
    threads = _threads(cfg, sizes["threads"], sizes["thread_rows"], cfg.work_dir / "b4_threads.sqlite")
    procs = _processes(cfg, sizes["processes"], sizes["process_rows"], cfg.work_dir / "b4_procs.sqlite")
    base = _baseline(cfg, sizes["baseline_rows"], cfg.work_dir / "b4_baseline.sqlite")
    memory = _queued_row_memory(cfg, sizes["memory_rows"], cfg.work_dir / "b4_memory.sqlite")
    pg = b4_postgres.run_arm(cfg, sizes, sample_row)
    for phase in (threads, procs):
        phase["ratio_vs_baseline"] = common.ratio(phase["rows_per_s"], base["rows_per_s"])
        phase["request_path_speedup_vs_baseline_p50"] = None
    threads["request_path_speedup_vs_baseline_p50"] = common.ratio(base["per_row_us"]["p50"], threads["write_us"]["p50"])
    cfg.log(
        f"  ratio vs baseline: threads {threads['ratio_vs_baseline']}x, processes {procs['ratio_vs_baseline']}x rows/s; "
        f"request path {threads['request_path_speedup_vs_baseline_p50']}x cheaper"
    )
    targets = [
        Target(f"rows/s, {sizes['threads']} threads", threads["rows_per_s"], TARGET_ROWS_PER_S, "rows/s", at_least=True),
        Target(f"rows/s, {sizes['processes']} processes", procs["rows_per_s"], TARGET_ROWS_PER_S, "rows/s", at_least=True),
        Target("write() p50 on the request path", threads["write_us"]["p50"], TARGET_WRITE_P50_US, "us"),
        Target("rows lost, threads", threads["rows_lost"], 0, "rows"),
        Target("rows lost, processes", procs["rows_lost"], 0, "rows"),
        *b4_postgres.targets(sizes, pg, TARGET_ROWS_PER_S),
        Target(
            "queued row memory within what it is charged",
            memory["bytes_per_queued_row"],
            memory["charged_bytes_per_row"],
            "bytes",
        ),
    ]
    common.report_targets(cfg, targets)
    metrics = dict(threads=threads, processes=procs, baseline_insert_commit_per_row=base, queued_row_memory=memory, postgresql=pg)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics=metrics,
        targets=targets,
        notes=[
            "throughput counts from the first write() to close() returning, i.e. rows durably committed",
            "processes each run their own UsageLog on one WAL file, so they contend for the write lock",
            "the throughput phases raise the queue's byte bound to the whole run; the memory phase measures a row",
            "postgresql: a local throwaway cluster with fsync on; its arms run in a shuffled order, baseline included",
        ],
        duration_s=clock() - t0,
        headlines=[
            f"{threads['rows_per_s']:,.0f} rows/s from {sizes['threads']} threads, {procs['rows_per_s']:,.0f} rows/s from "
            f"{sizes['processes']} processes vs {base['rows_per_s']:,.0f} rows/s one-commit-per-row "
            f"(x{threads['ratio_vs_baseline']}, x{procs['ratio_vs_baseline']})",
            f"write() p50 {threads['write_us']['p50']:.2f} us vs {base['per_row_us']['p50']:.1f} us per committed row; "
            f"rows lost {threads['rows_lost'] + procs['rows_lost']}",
            f"a queued row holds {memory['bytes_per_queued_row']:,.0f} bytes; each is charged {memory['charged_bytes_per_row']:,}",
            b4_postgres.headline(sizes, pg),
        ],
    )
