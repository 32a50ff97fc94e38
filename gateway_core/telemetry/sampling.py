"""Head sampling: whether a request's spans are kept, decided once when the request starts.

The decision is the standard samplers' (``OTEL_TRACES_SAMPLER``): ``always_on``,
``always_off``, ``traceidratio`` and their ``parentbased_`` forms, which follow the caller's
sampled flag when a ``traceparent`` came in and apply the base rule only to new traces.
The ratio rule is the SDK's own (the trace id's low 64 bits below ``ratio`` × 2⁶⁴), so
every service sampling by trace id keeps or drops the same traces. It is decided here, on
the request path, because the flag travels onward in the provider calls' ``traceparent``
while the request runs; an unsampled request still counts in every metric, it just leaves
no spans, which spares the worker most of its per-request work.
"""

from __future__ import annotations

from collections.abc import Callable

from .wire import Parent

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER = "parentbased_always_on"
_LOW_64 = (1 << 64) - 1

Sampler = Callable[[int, "Parent | None"], bool]


def ratio_bound(ratio: float) -> int:
    """Trace ids whose low 64 bits fall below this are sampled."""
    return round(ratio * (_LOW_64 + 1))


def make_sampler(name: str, ratio: float = 1.0) -> Sampler:
    """``sampled(trace_id, parent)`` for the sampler called ``name``; ``ratio`` is used by the ratio ones."""
    base_name = name.removeprefix("parentbased_")
    if base_name == "always_on":

        def base(trace_id: int) -> bool:
            return True

    elif base_name == "always_off":

        def base(trace_id: int) -> bool:
            return False

    elif base_name == "traceidratio":
        bound = ratio_bound(ratio)

        def base(trace_id: int) -> bool:
            return (trace_id & _LOW_64) < bound

    else:
        raise ValueError(f"unknown sampler {name!r}")
    if not name.startswith("parentbased_"):
        return lambda trace_id, parent: base(trace_id)
    return lambda trace_id, parent: parent.sampled if parent is not None else base(trace_id)
