"""API key material: generation, the stored hash, parsing, and the static keys of ``GATEWAY_API_KEYS``.

A key reads ``gwk_<key id>_<secret>``. The prefix makes a leaked key recognisable to
secret scanners and people; the key id (10 base32 characters) is public, shown in listings
and used to find the stored record; the secret is 32 random bytes from ``secrets``. The key
is shown once, at creation, and only its SHA-256 is stored.

Why a plain SHA-256 and not a slow password hash: slow hashes (bcrypt, scrypt, argon2)
exist to make guessing low-entropy passwords expensive. A 256-bit random secret cannot be
guessed at any hashing speed, so a fast hash loses nothing, and it keeps authentication in
microseconds on every request. The comparison of hashes is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

KEY_PREFIX = "gwk"
KEY_ID_CHARS = 10
_SECRET_BYTES = 32
_B32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def new_key_id() -> str:
    return base64.b32encode(secrets.token_bytes(8)).decode("ascii").lower()[:KEY_ID_CHARS]


def new_key(key_id: str) -> str:
    return f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The key id inside a well-formed key, or None: a malformed key never reaches the store."""
    prefix, sep, rest = key.partition("_")
    if prefix != KEY_PREFIX or not sep:
        return None
    key_id, sep, secret = rest.partition("_")
    if not sep or len(key_id) != KEY_ID_CHARS or not _B32.issuperset(key_id) or len(secret) < 16:
        return None
    return key_id


def hash_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key).encode("ascii"), stored_hash.encode("ascii"))


def display(key_id: str) -> str:
    """How listings show a key: its public part only."""
    return f"{KEY_PREFIX}_{key_id}_…"


class StaticKeys:
    """``GATEWAY_API_KEYS``: matched by hash against every configured key, with no early exit."""

    def __init__(self, keys: tuple[str, ...] = ()):
        self._hashes = tuple(hash_key(k).encode("ascii") for k in keys)

    def __len__(self) -> int:
        return len(self._hashes)

    def match(self, key: str) -> int | None:
        """The 1-based position of ``key`` in the list, or None."""
        return self.match_digest(hash_key(key)) if self._hashes else None

    def match_digest(self, digest_hex: str) -> int | None:
        """As ``match``, given the key's ``hash_key``."""
        if not self._hashes:
            return None
        digest = digest_hex.encode("ascii")
        found = None
        for i, h in enumerate(self._hashes, 1):
            if hmac.compare_digest(digest, h) and found is None:
                found = i
        return found
