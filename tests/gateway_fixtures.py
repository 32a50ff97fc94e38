"""Shared helpers for tests that drive a whole Gateway against the in-process emulators."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway_core import Gateway

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"


def database_env(db) -> dict[str, str]:
    """The variable naming the usage database: a SQLite file, or a PostgreSQL URL."""
    from gateway_core.db import is_postgres

    return {"GATEWAY_DB_URL": db} if is_postgres(db) else {"GATEWAY_DB_PATH": str(db)}


def demo_env(db_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "GATEWAY_MODE": "demo",
        "GATEWAY_EMULATOR_PROFILE": "zero",
        **database_env(db_path),
        "GATEWAY_TIMEOUT_S": "2",
        "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini,gpt-4o",
        "BEDROCK_MODEL_ID": f"{HAIKU},{SONNET}",
    }
    env.update(extra)
    return env


def demo_gateway(db_path: Path, **extra: str) -> Gateway:
    return Gateway.from_env(demo_env(db_path, **extra), dotenv_path=None)


def log_rows(db_path: Path, where: str = "1=1", table: str = "usage_logs") -> list[dict]:
    """Every row of ``table`` as a dict, in id order; ``db_path`` may be a PostgreSQL URL."""
    from gateway_core import db

    if db.is_postgres(db_path):
        conn = db.connect(db_path)
        try:
            cur = conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            conn.close()
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id")]
    finally:
        con.close()


ROOT = Path(__file__).resolve().parent.parent


def tiktoken_available() -> bool:
    """True when the offline tiktoken files load (tests needing exact counts skip otherwise)."""
    from gateway_core.tokens import load_cached_encoding

    try:
        return load_cached_encoding("o200k_base") is not None
    except Exception:
        return False
