"""A gateway process killed with SIGKILL mid-traffic leaves a sound log that loses at most one batch.

The bound comes from ``gateway_core.usage.writer``: rows are committed by a background writer
in batches of at most ``batch_max``, gathered for ``flush_interval_s``; a crash can lose
only what was queued but not yet committed.
"""

from __future__ import annotations

import inspect
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gateway_fixtures import demo_gateway
from reliability_support import scaled

from gateway_core import GenerateRequest
from gateway_core.usage import UsageLog

WORKER = Path(__file__).with_name("reliability_workers.py")
KILL_AFTER = scaled(400, 4000)  # completed requests before the kill
CHILD_THREADS = 4


def writer_defaults() -> tuple[int, float]:
    params = inspect.signature(UsageLog.__init__).parameters
    return params["batch_max"].default, params["flush_interval_s"].default


def run_and_kill(db: Path) -> tuple[int, int, float]:
    """Start the child, SIGKILL it after ``KILL_AFTER`` requests; (requests, attempts, rate/s)."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "crash", str(db), str(CHILD_THREADS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    requests = attempts = 0
    started = None
    try:
        for line in proc.stdout:
            if line.startswith("ready"):
                started = time.monotonic()
            elif line.startswith("done"):
                _, r, a = line.split()
                requests, attempts = int(r), int(a)
                if requests >= KILL_AFTER:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    for line in rest.splitlines():  # lines printed before the kill landed still count
        if line.startswith("done"):
            _, r, a = line.split()
            requests, attempts = max(requests, int(r)), max(attempts, int(a))
    assert proc.returncode == -signal.SIGKILL, f"child ended on its own ({proc.returncode}): {err[-2000:]}"
    elapsed = time.monotonic() - (started or time.monotonic())
    return requests, attempts, requests / max(elapsed, 1e-3)


@pytest.mark.timeout(scaled(300, 3600))
def test_sigkill_mid_traffic_keeps_the_log_sound_and_loss_within_the_documented_bound(tmp_path):
    db = tmp_path / "crash.sqlite"
    requests, attempts, rate = run_and_kill(db)
    assert requests >= KILL_AFTER

    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT COUNT(*) FROM usage_logs").fetchone()[0]
        doubled = con.execute(
            "SELECT COUNT(*) FROM (SELECT request_id, attempt FROM usage_logs GROUP BY 1, 2 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()

    batch_max, flush_interval_s = writer_defaults()
    # Documented: one batch plus whatever was queued during the last flush interval.
    bound = batch_max + math.ceil(rate * flush_interval_s)
    lost = max(0, attempts - rows)
    print(
        f"\ncrash: {requests} requests / {attempts} attempts acknowledged, {rows} rows stored, "
        f"{lost} lost (bound {bound}: batch_max {batch_max} + {rate:.0f}/s x {flush_interval_s}s)"
    )
    assert doubled == 0
    assert lost <= bound, f"{lost} rows lost, above the documented bound of {bound}"

    # The log stays usable: a new gateway opens the crashed file and appends to it.
    gw = demo_gateway(db)
    try:
        r = gw.generate(GenerateRequest(prompt="after the crash", task="chat"))
    finally:
        gw.close()
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM usage_logs WHERE request_id = ?", (r.request_id,)).fetchone()[0] == 1
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
