"""Real storage faults for usage-log tests, and the counts they compare.

The suite runs as root, and file permissions do not stop root: ``chmod a-w`` on the log's
directory changes nothing for it (nor, for anyone, through files already open). What does
stop root, even through open descriptors, is the immutable attribute: ``chattr +i`` makes
``write`` fail with EPERM, as a read-only file system's EROFS would. It is applied to the
database file, its WAL and its directory, never to the ``-shm`` file: SQLite memory-maps
that one, and a write fault on an immutable mapping is a SIGBUS, not an error. A full
disk comes from SQLite's own ``max_page_count`` (``GATEWAY_DB_MAX_MB``) for the database,
and from a small ``tmpfs`` mount for a spill directory. Tests skip, saying why, where
the machine allows neither.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import pytest


def _run(*args: str) -> bool:
    try:
        return subprocess.run(args, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_immutable(where: Path) -> None:
    """Skip unless ``chattr +i`` works on files under ``where``."""
    probe = where / f".immutable-probe-{uuid.uuid4().hex[:6]}"
    probe.write_text("x")
    try:
        if not (shutil.which("chattr") and _run("chattr", "+i", str(probe))):
            pytest.skip("chattr +i is not available here (needs root and a file system with attributes)")
        _run("chattr", "-i", str(probe))
    finally:
        probe.unlink()


@contextlib.contextmanager
def immutable(*paths: Path):
    """Make ``paths`` immutable for the block: every write to them fails, root's included."""
    existing = [str(p) for p in paths if p.exists()]
    assert existing and _run("chattr", "+i", *existing), f"chattr +i failed on {existing}"
    try:
        yield
    finally:
        _run("chattr", "-i", *existing)


def log_files_frozen(db: Path):
    """The database, its WAL and its directory made immutable (see the module docstring)."""
    return immutable(db, Path(f"{db}-wal"), db.parent)


@contextlib.contextmanager
def tmpfs(path: Path, size_kb: int):
    """A ``size_kb`` tmpfs mounted at ``path`` for the block; skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if not _run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def spill_keys(spill_dir: Path) -> Counter:
    """(request_id, attempt) of every ``usage_logs`` row in the spill files, counted."""
    import json

    keys: Counter = Counter()
    for f in sorted(spill_dir.glob("spill-*.jsonl")):
        for line in f.read_text("utf-8").splitlines():
            item = json.loads(line)
            if item["table"] == "usage_logs":
                keys[(item["row"]["request_id"], item["row"]["attempt"])] += 1
    return keys


def db_keys(db, where: str = "synthetic = 0") -> Counter:
    """(request_id, attempt) of every row in the database (empty when the file is gone);
    ``db`` may also be a PostgreSQL URL."""
    from gateway_core.db import is_postgres

    if is_postgres(db):
        from dbq import rows

        return Counter(rows(db, f"SELECT request_id, attempt FROM usage_logs WHERE {where}"))
    if not db.exists():
        return Counter()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return Counter(con.execute(f"SELECT request_id, attempt FROM usage_logs WHERE {where}").fetchall())
    finally:
        con.close()
