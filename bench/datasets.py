"""Usage-log databases of a given size for the analytics and console benchmarks, cached.

Rows come from ``demo_history.seed_demo``, the same generator the console's "load
synthetic history" button uses. A 1M-request file takes tens of seconds to write, so
files are kept in the system temp directory, keyed by size, the day they were made (the
Analytics page looks at the last 30 days) and a hash of the generator and schema code, so
a change to either makes a fresh file. Older files of the same size are deleted.
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CACHE_DIR = Path(tempfile.gettempdir()) / "gateway-bench-cache"


def _code_hash() -> str:
    from gateway_core.usage import demo_history
    from gateway_core.usage import schema as usage_schema

    h = hashlib.sha256()
    for module in (demo_history, usage_schema):
        h.update(inspect.getsource(module).encode())
    return h.hexdigest()[:10]


def row_count(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM usage_logs").fetchone()[0]
    finally:
        con.close()


def usage_db(requests: int, *, cache: bool = True, work_dir: Path | None = None) -> tuple[Path, dict]:
    """A usage-log file with ``requests`` synthetic requests; returns (path, facts about it)."""
    from gateway_core.usage.demo_history import seed_demo

    day = datetime.now(UTC).strftime("%Y%m%d")
    name = f"usage-{requests}-{day}-{_code_hash()}.sqlite"
    target_dir = CACHE_DIR if cache else (work_dir or Path(tempfile.mkdtemp(prefix="gateway-bench-")))
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / name
    if path.exists():
        return path, {"requests": requests, "rows": row_count(path), "generated_s": None, "cached": True}
    if cache:
        for stale in target_dir.glob(f"usage-{requests}-*.sqlite*"):
            stale.unlink(missing_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    t0 = time.perf_counter()
    seed_demo(partial, days=30, requests=requests, seed=7)
    _checkpoint(partial)
    generated_s = time.perf_counter() - t0
    shutil.move(partial, path)
    return path, {"requests": requests, "rows": row_count(path), "generated_s": generated_s, "cached": False}


def _checkpoint(db: Path) -> None:
    """Fold the WAL into the main file so the file can be moved and opened read-only alone."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def copy_db(src: Path, dst: Path) -> Path:
    """A private copy for a benchmark that writes (new-row visibility), leaving the cache pristine."""
    shutil.copyfile(src, dst)
    return dst
