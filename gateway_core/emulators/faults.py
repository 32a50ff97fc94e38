"""Fault specifications for the emulators: validation, and a seeded draw per model call.

A spec is set as a whole (``set_faults`` replaces the previous one). ``extra_latency_ms``
applies to every call; everything else applies to a fraction ``error_rate`` of calls
(1.0 when not given), drawn from an RNG seeded with ``seed`` so a run is repeatable. A
faulted call uses the spec's own fault, or one entry of ``mix`` picked by ``weight``.
A fault is any combination of:

- ``status`` (400 needs ``code``: ``content_filter`` or ``context_length_exceeded``) - an
  error response; with ``cut_stream_after`` it instead chooses the in-stream error kind;
- ``hang_s`` - sleep before answering, so the client's read timeout fires;
- ``cut_stream_after`` - N content chunks, then the stream is cut (``cut_mode`` ``drop``
  closes the socket, ``error_event`` sends an error event / exception frame); on a
  non-stream call the connection is closed with no response;
- ``retry_after_s`` and ``should_retry`` - the advertised retry delay and ``x-should-retry``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

STATUSES = (400, 408, 429, 500, 503)
CODES_400 = ("content_filter", "context_length_exceeded")
CUT_MODES = ("drop", "error_event")
_FAULT_KEYS = ("status", "code", "hang_s", "cut_stream_after", "cut_mode", "retry_after_s", "should_retry")
_TOP_KEYS = ("error_rate", "extra_latency_ms", "seed", "mix") + _FAULT_KEYS


class FaultError(ValueError):
    """A fault specification that makes no sense; the message says which field."""


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    code: str | None = None
    hang_s: float | None = None
    cut_stream_after: int | None = None
    cut_mode: str | None = None
    retry_after_s: float | None = None
    should_retry: bool | None = None
    weight: float = 1.0

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "weight"}


def _number(name: str, value, lo: float, hi: float, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise FaultError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not lo <= value <= hi:
        raise FaultError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return value


def _fault(fields: dict, where: str) -> Fault:
    unknown = set(fields) - set(_FAULT_KEYS) - {"weight"}
    if unknown:
        raise FaultError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    f = dict(fields)
    if "status" in f:
        f["status"] = int(_number("status", f["status"], 0, 999, integer=True))
        if f["status"] not in STATUSES:
            raise FaultError(f"status must be one of {', '.join(map(str, STATUSES))}, got {f['status']}")
    if "code" in f:
        if f.get("status") != 400:
            raise FaultError("code is only meaningful with status 400")
        if f["code"] not in CODES_400:
            raise FaultError(f"code must be one of {', '.join(CODES_400)}, got {f['code']!r}")
    elif f.get("status") == 400:
        raise FaultError(f"status 400 needs a code ({', '.join(CODES_400)})")
    if "hang_s" in f:
        f["hang_s"] = float(_number("hang_s", f["hang_s"], 0.001, 600))
    if "cut_stream_after" in f:
        f["cut_stream_after"] = _number("cut_stream_after", f["cut_stream_after"], 0, 100_000, integer=True)
    if "cut_mode" in f:
        if f["cut_mode"] not in CUT_MODES:
            raise FaultError(f"cut_mode must be one of {', '.join(CUT_MODES)}, got {f['cut_mode']!r}")
        if "cut_stream_after" not in f:
            raise FaultError("cut_mode needs cut_stream_after")
    if "retry_after_s" in f:
        f["retry_after_s"] = float(_number("retry_after_s", f["retry_after_s"], 0.001, 86_400))
    if "should_retry" in f and not isinstance(f["should_retry"], bool):
        raise FaultError("should_retry must be true or false")
    if "weight" in f:
        f["weight"] = float(_number("weight", f["weight"], 1e-9, 1e9))
    fault = Fault(**f)
    if fault.status is None and fault.hang_s is None and fault.cut_stream_after is None:
        raise FaultError(f"{where}: a fault needs status, hang_s or cut_stream_after")
    return fault


@dataclass(frozen=True)
class FaultSpec:
    error_rate: float = 0.0
    extra_latency_ms: float = 0.0
    seed: int | None = None
    faults: tuple[Fault, ...] = ()
    mixed: bool = False

    @classmethod
    def parse(cls, fields: dict) -> FaultSpec:
        if not isinstance(fields, dict):
            raise FaultError("the fault specification must be a JSON object")
        unknown = set(fields) - set(_TOP_KEYS)
        if unknown:
            raise FaultError(f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(_TOP_KEYS)}")
        latency = float(_number("extra_latency_ms", fields.get("extra_latency_ms", 0), 0, 600_000))
        seed = fields.get("seed")
        if seed is not None:
            seed = int(_number("seed", seed, -(2**63), 2**63, integer=True))
        own = {k: v for k, v in fields.items() if k in _FAULT_KEYS}
        mix = fields.get("mix")
        if mix is not None:
            if own:
                raise FaultError("give either mix or status/hang_s/cut_stream_after at the top level, not both")
            if not isinstance(mix, list) or not mix or not all(isinstance(m, dict) for m in mix):
                raise FaultError("mix must be a non-empty list of fault objects")
            faults = tuple(_fault(m, f"mix[{i}]") for i, m in enumerate(mix))
        else:
            faults = (_fault(own, "fault"),) if own else ()
        if "error_rate" in fields:
            rate = float(_number("error_rate", fields["error_rate"], 0, 1))
            if not faults:
                raise FaultError("error_rate needs a fault: status, hang_s, cut_stream_after or mix")
        else:
            rate = 1.0 if faults else 0.0
        return cls(rate, latency, seed, faults, mix is not None)

    def as_dict(self) -> dict:
        if not self.faults and not self.extra_latency_ms:
            return {}
        out: dict = {}
        if self.faults:
            out["error_rate"] = self.error_rate
        if self.extra_latency_ms:
            out["extra_latency_ms"] = self.extra_latency_ms
        if self.seed is not None:
            out["seed"] = self.seed
        if self.mixed:
            out["mix"] = [dict(f.as_dict(), weight=f.weight) for f in self.faults]
        elif self.faults:
            out.update(self.faults[0].as_dict())
        return out


class FaultState:
    """The current spec plus its RNG; ``draw`` is thread-safe and consumes the RNG in call order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spec = FaultSpec()
        self._rng = random.Random()

    def set(self, fields: dict) -> FaultSpec:
        spec = FaultSpec.parse(fields)
        with self._lock:
            self._spec = spec
            self._rng = random.Random(spec.seed)
        return spec

    def clear(self) -> None:
        self.set({})

    def spec(self) -> FaultSpec:
        with self._lock:
            return self._spec

    def draw(self) -> tuple[float, Fault | None]:
        """(extra latency in seconds, the fault for this call or None)."""
        with self._lock:
            spec = self._spec
            if not spec.faults or self._rng.random() >= spec.error_rate:
                return spec.extra_latency_ms / 1000.0, None
            if len(spec.faults) == 1:
                return spec.extra_latency_ms / 1000.0, spec.faults[0]
            chosen = self._rng.choices(spec.faults, weights=[f.weight for f in spec.faults])[0]
            return spec.extra_latency_ms / 1000.0, chosen
