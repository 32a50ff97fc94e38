"""One request's path, top to bottom: validate, plan, rank, execute, log.

``run`` is the whole path as one generator (text chunks while streaming; the
``GenerateResult`` as its return value), and every step is a named call on the
``Runtime``:

1. ``planning.check``: refuse what the configuration cannot serve (the request object
   validated its own fields when it was built);
2. ``planning.build_plan``: chat messages, and a token and cost estimate per route;
3. ``planning.rank_plan``: the pure router orders the candidates and says why;
4. ``executor.execute``: call candidates in order, falling back on retryable failures,
   recording each attempt in the ``Trail`` as it happens;
5. ``log``: one usage-log row per attempt, queued to the background writer;
6. ``telemetry``: the request's span (opened once it is planned, with an attempt span per
   provider call through the ``Trail``) is closed and handed to the exporter's worker.

``log`` and the span's end run in a ``finally``: a request that fails, or whose stream the
caller abandons (``GeneratorExit``), is logged and traced as completely as one that answers. A step that belongs
between two of these (a policy over the planned candidates, a budget reservation before
the first call, settling it afterwards) is one more line here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping

from . import executor, planning
from .executor import Trail
from .providers.base import StreamItem
from .runtime import Runtime
from .telemetry import request_path as telemetry
from .types import GenerateRequest, GenerateResult
from .usage.rows import request_rows


def run(
    rt: Runtime,
    request: GenerateRequest,
    request_id: str,
    *,
    streaming: bool,
    on_attempt: Callable | None = None,
    trace_headers: Mapping[str, str] | None = None,
) -> Generator[StreamItem, None, GenerateResult]:
    """``trace_headers``: the incoming HTTP request's headers when the REST API serves it."""
    planning.check(rt, request)
    plan = planning.build_plan(rt, request, streaming=streaming)
    trace = telemetry.start(rt, plan, trace_headers)
    trail, outcome = Trail(watch=telemetry.watcher(rt, trace)), None
    try:
        plan = planning.rank_plan(rt, plan)
        outcome = yield from executor.execute(rt, plan, request_id, trail, on_attempt)
        return outcome
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        log(rt, plan, request_id, trail)
        telemetry.end(trace, outcome)


def log(rt: Runtime, plan: planning.Plan, request_id: str, trail: Trail) -> None:
    """Queue one row per attempt; the request path never waits on disk."""
    for row in request_rows(plan, request_id, trail.attempts, trail.result, rt.prices, rt.store_content):
        rt.usage_log.write(row)


def complete(
    rt: Runtime, request: GenerateRequest, request_id: str, trace_headers: Mapping[str, str] | None = None
) -> GenerateResult:
    """``run`` to its end without streaming: the result, or the request's error."""
    steps = run(rt, request, request_id, streaming=False, trace_headers=trace_headers)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
