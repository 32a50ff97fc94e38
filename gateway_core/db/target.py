"""Which database a setting names: a SQLite file path, or a ``postgresql://`` URL.

Everything that opens the usage database takes one *target*: the path of a SQLite file
(``GATEWAY_DB_PATH``) or a PostgreSQL URL (``GATEWAY_DB_URL``). These pure helpers tell
them apart, check a URL's shape, and describe a target for people: a URL may carry a
password, and ``describe`` never shows it, so a target can appear in a message or a page.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")

Target = str | Path


def is_postgres(target: Target) -> bool:
    return isinstance(target, str) and target.split("://", 1)[0].lower() in SCHEMES and "://" in target


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL psycopg can read; ``ValueError`` saying why not."""
    text = url.strip()
    if not is_postgres(text):
        raise ValueError("must be a postgresql:// URL, e.g. postgresql://gateway@db:5432/gateway")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("is not a valid URL (check the host and port)") from None
    if not (parts.hostname or "host=" in parts.query):
        raise ValueError("names no host")
    return text


def password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def describe(target: Target) -> str:
    """The target for a person to read: a file path as it is, a URL without its password."""
    if not is_postgres(target):
        return str(target)
    try:
        parts = urlsplit(str(target))
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit((parts.scheme, user + host, parts.path, "", ""))
    except ValueError:
        return "postgresql://(unreadable URL)"


def identity(target: Target) -> str:
    """A stable name for the database (a resolved path, or the URL without its password),
    so a persisted analytics mirror knows which log it copies."""
    return describe(target) if is_postgres(target) else str(Path(target).resolve())
