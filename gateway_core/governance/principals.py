"""Principals found recently, so authentication reads the store once per key per few seconds.

A slot is a key's hash (``authenticate``), ``name:<key name>`` (``principal_for``) or
``anonymous``; none can take another's. An entry lives ``ttl_s`` seconds; expiry is checked
on every hit, and the whole cache is emptied when it fills (so odd traffic cannot grow it)
or when this process changes a key or a team. The same lifetime applies to the census of
whether any key exists, which decides whether callers must present one.
"""

from __future__ import annotations

from .records import Principal
from .refusals import expired_error

CACHE_SIZE = 10_000


class PrincipalCache:
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[Principal, float]] = {}
        self._census: tuple[bool, float] | None = None  # (any key exists, when read)

    def get(self, slot: str, now: float) -> Principal | None:
        """The cached principal, None if absent or stale; ``AuthenticationError`` once it expired."""
        cached = self._items.get(slot)
        if cached is None or now - cached[1] >= self.ttl_s:
            return None
        principal = cached[0]
        if principal.expires_at is not None and now >= principal.expires_at:
            self._items.pop(slot, None)
            raise expired_error(principal.key_name, principal.expires_at)
        return principal

    def put(self, slot: str, principal: Principal, now: float) -> Principal:
        if len(self._items) >= CACHE_SIZE:
            self._items.clear()
        self._items[slot] = (principal, now)
        return principal

    def census(self, now: float) -> bool | None:
        """Whether any key existed when last counted; None when that is stale."""
        known = self._census
        return None if known is None or now - known[1] >= self.ttl_s else known[0]

    def count(self, any_key: bool, now: float) -> bool:
        self._census = (any_key, now)
        return any_key

    def clear(self) -> None:
        self._items.clear()
        self._census = None
