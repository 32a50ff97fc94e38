"""In-process Rego evaluation with regopy, behind a decision cache that follows the files.

A regopy query costs hundreds of microseconds, so decisions are cached. The cache key is
the part of ``input`` the policy reads (found in its source by ``policy_source``) and the
policy is evaluated on exactly that part, so a decision is by construction a function of
its key: a policy that never reads ``input.request.prompt_chars`` shares one decision
across prompt lengths, and one that reads it does not. The policy is compiled once into a
regopy bundle (about 6x cheaper to query than source). At most once per
``check_interval_s`` a request stats the policy files; if they changed, the new version
is loaded and compiled and replaces the old one with an empty cache. A changed policy
that does not load is logged and the last good version stays in force. A policy that
calls a nondeterministic builtin (``time.now_ns``...) is evaluated on every request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from regopy import Interpreter, LogLevel, RegoError

from .policy import PACKAGE, PolicyContractError, PolicyDecision, PolicyError, decision_from_document, failed_decision
from .policy_source import (
    PolicySource,
    check_sources,
    content_version,
    input_paths,
    locate_error,
    nondeterministic_calls,
    read_sources,
    signature,
)

log = logging.getLogger(__name__)

ENTRYPOINT = PACKAGE.replace(".", "/")
_MISSING = object()


class CompiledPolicy:
    """One version of a policy set: its sources, what it reads, and the compiled bundle."""

    def __init__(self, sources: tuple[PolicySource, ...], origin: str):
        self.sources = sources
        self.version = content_version(sources)
        self.paths = input_paths(sources)
        self.key_paths = tuple(sorted(self.paths))
        self.nondeterministic = sorted(nondeterministic_calls(sources))
        self.read_fields: dict[str, bool] = {}  # field -> whether the policy reads it (asked per request)
        self._lock = threading.Lock()  # one regopy interpreter is not safe to share across threads
        self._rego = Interpreter()
        self._rego.log_level = LogLevel.NONE  # regopy prints its errors to stdout otherwise
        check_sources(sources, self._rego.is_builtin)
        for source in sources:
            try:
                self._rego.add_module(source.name, source.text)
            except RegoError as e:
                raise _located(e, sources, source.name) from None
        try:
            self._bundle = self._rego.build(None, [ENTRYPOINT])
        except RegoError as e:
            raise _located(e, sources, origin) from None

    @property
    def cacheable(self) -> bool:
        return not self.nondeterministic

    def evaluate(self, pruned_input: Mapping) -> dict:
        """The package document for this input; raises on an evaluation error."""
        with self._lock:
            self._rego.set_input(pruned_input)
            try:
                out = self._rego.query_bundle_entrypoint(self._bundle, ENTRYPOINT)
            except json.JSONDecodeError:
                # regopy answers some runtime errors with a report that is not JSON.
                raise PolicyContractError("evaluation error (regopy returned an error report)") from None
        if not out.ok():
            raise PolicyContractError("evaluation error (for example two different values for one rule)")
        expressions = out.results[0].expressions if out.results else []
        return expressions[0] if expressions else {}


def _located(error: RegoError, sources, fallback: str) -> PolicyError:
    name, line, reason = locate_error(str(error), sources)
    return PolicyError(name or fallback, reason, line)


def compile_policy(path: str | Path) -> CompiledPolicy:
    """Read, check and compile the policy at ``path``; ``PolicyError`` names file and line."""
    return CompiledPolicy(read_sources(path), str(path))


# One encoder, built once: json.dumps with options builds a new one on every call. Keys are
# not sorted (a third of the cost): ``build_input`` always inserts them in one order, and an
# input built in another order can only miss the cache, never hit a wrong entry.
_KEY = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def project(policy_input: Mapping, key_paths: tuple[tuple[str, ...], ...]) -> tuple[Mapping, str]:
    """The part of ``input`` under ``key_paths`` (sorted, prefix-free), and its JSON as a cache key."""
    if key_paths and not key_paths[0]:
        pruned = policy_input  # the policy reads the whole input
    else:
        pruned = {}
        for path in key_paths:
            value = policy_input
            for part in path:
                value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
                if value is _MISSING:
                    break
            if value is _MISSING:
                continue
            node = pruned
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    return pruned, _KEY(pruned)


class _LRU:
    def __init__(self, size: int):
        self.size, self.hits, self.misses = size, 0, 0
        self._items: OrderedDict[str, PolicyDecision] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> PolicyDecision | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return found

    def put(self, key: str, decision: PolicyDecision) -> None:
        with self._lock:
            self._items[key] = decision
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RegoPolicy:
    """The ``PolicyEngine`` for a local policy file or directory."""

    def __init__(
        self,
        path: str | Path,
        *,
        fail_open: bool = False,
        cache_size: int = 4096,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path, self.fail_open = str(path), fail_open
        self._cache_size, self._interval, self._clock = cache_size, check_interval_s, clock
        self._signature = signature(self.path)
        # Policy and cache are swapped together, so a decision never lands in the wrong cache.
        self._state = (compile_policy(self.path), _LRU(cache_size))
        self._reload_lock = threading.Lock()
        self._next_check = clock() + check_interval_s
        self.reload_error: str | None = None
        self.reloads = 0
        if self._state[0].nondeterministic:
            log.warning(
                "routing policy %s calls %s, so its decisions are not cached",
                self.version,
                ", ".join(self._state[0].nondeterministic),
            )

    @property
    def version(self) -> str:
        return self._state[0].version

    @property
    def sources(self) -> tuple[PolicySource, ...]:
        return self._state[0].sources

    @property
    def input_fields(self) -> list[str]:
        """What the policy reads, as dotted paths (``input.request.pii``)."""
        return sorted(".".join(("input",) + p) for p in self._state[0].paths)

    def reads(self, field: str) -> bool:
        """Whether the policy can see ``field`` (``"request.pii"``), so callers skip unread work."""
        policy = self._state[0]
        known = policy.read_fields.get(field)
        if known is None:
            wanted = tuple(field.split("."))
            known = any(p[: len(wanted)] == wanted or wanted[: len(p)] == p for p in policy.paths)
            policy.read_fields[field] = known
        return known

    def decide(self, policy_input: Mapping) -> PolicyDecision:
        if self._clock() >= self._next_check:
            self.reload_if_changed()
        policy, cache = self._state
        try:
            pruned, key = project(policy_input, policy.key_paths)
        except (TypeError, ValueError) as e:
            return failed_decision(f"input is not plain JSON ({e})", version=policy.version, fail_open=self.fail_open)
        if policy.cacheable:
            found = cache.get(key)
            if found is not None:
                return found
        decision = self._evaluate(policy, pruned)
        if policy.cacheable:
            cache.put(key, decision)
        return decision

    def evaluate(self, policy_input: Mapping) -> PolicyDecision:
        """One uncached evaluation (dry runs and measurements)."""
        policy = self._state[0]
        try:
            pruned, _ = project(policy_input, policy.key_paths)
        except (TypeError, ValueError) as e:
            return failed_decision(f"input is not plain JSON ({e})", version=policy.version, fail_open=self.fail_open)
        return self._evaluate(policy, pruned)

    def _evaluate(self, policy: CompiledPolicy, pruned: Mapping) -> PolicyDecision:
        try:
            return decision_from_document(policy.evaluate(pruned), policy.version)
        except PolicyContractError as e:
            reason = str(e)
        except Exception as e:  # noqa: BLE001 - a policy must never turn into a 500
            reason = f"{type(e).__name__} while evaluating"
        return failed_decision(reason, version=policy.version, fail_open=self.fail_open)

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Load the policy again if its files changed; True if a new version is now in force."""
        if not self._reload_lock.acquire(blocking=False):
            return False  # another request is already looking; keep serving the current version
        try:
            self._next_check = self._clock() + self._interval
            current = signature(self.path)
            if current == self._signature and not force:
                return False
            self._signature = current
            try:
                sources = read_sources(self.path)
                if content_version(sources) == self.version:
                    self.reload_error = None
                    return False  # touched, or changed and changed back: nothing to compile
                policy = CompiledPolicy(sources, self.path)
            except PolicyError as e:
                self.reload_error = e.message
                log.error("routing policy changed but does not load; version %s stays in force: %s", self.version, e.message)
                return False
            self.reload_error = None
            log.info("routing policy reloaded: version %s replaces %s", policy.version, self.version)
            self._state = (policy, _LRU(self._cache_size))
            self.reloads += 1
            return True
        finally:
            self._reload_lock.release()

    def stats(self) -> dict:
        policy, cache = self._state
        return {
            "version": policy.version,
            "files": [s.name for s in policy.sources],
            "reads": self.input_fields,
            "cached": len(cache),
            "cache_size": self._cache_size,
            "hits": cache.hits,
            "misses": cache.misses,
            "cacheable": policy.cacheable,
            "reloads": self.reloads,
            "reload_error": self.reload_error,
        }
