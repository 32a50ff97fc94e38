"""W3C Trace Context on the wire: reading an incoming ``traceparent`` and writing the outgoing one.

Pure string work with no SDK import, because it runs on the request path: the ids must be
known while the request is served (the provider call carries them), so they are parsed
and formatted here rather than through the SDK's propagator objects. The reading rules
are the standard's: lower-case hex, version ``ff`` forbidden, version ``00`` exactly 55
characters, later versions may append ``-`` fields, all-zero ids invalid. A bad header is
ignored and the request starts its own trace, as the standard asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

TRACE_HEADERS = ("traceparent", "tracestate")
MAX_TRACEPARENT = 512
MAX_TRACESTATE = 512

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# list-members of key=value separated by commas; only the characters the standard allows
_TRACESTATE = re.compile(r"[\x20-\x7e]*")


class Parent(NamedTuple):
    """The caller's span a request continues: ids, whether it was sampled, its tracestate."""

    trace_id: int
    span_id: int
    sampled: bool
    tracestate: str | None = None
    remote: bool = True


def traceparent(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(value: object) -> tuple[int, int, bool] | None:
    """``(trace_id, span_id, sampled)`` from a ``traceparent`` value, or None when it is not valid."""
    if not isinstance(value, str) or len(value) > MAX_TRACEPARENT:
        return None
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_hex, span_hex, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


def parent_from_headers(headers: Mapping[str, str]) -> Parent | None:
    """The caller's trace context from request headers, whatever their case; None if absent or invalid."""
    found = carrier(headers)
    ids = parse_traceparent(found.get("traceparent"))
    if ids is None:
        return None
    state = found.get("tracestate")
    if state is not None and (len(state) > MAX_TRACESTATE or not _TRACESTATE.fullmatch(state) or not state.strip()):
        state = None
    return Parent(*ids, tracestate=state.strip() if state else None)


def carrier(headers: Mapping[str, str]) -> dict[str, str]:
    """The trace-context headers of a request as a lower-case dict; case-insensitive mappings
    (Starlette's) answer directly, a plain dict in another case is scanned once."""
    found = {name: headers.get(name) for name in TRACE_HEADERS}
    if found["traceparent"] is None:
        found = {k.lower(): v for k, v in headers.items() if isinstance(k, str) and k.lower() in TRACE_HEADERS}
    return {k: v for k, v in found.items() if isinstance(v, str)}
