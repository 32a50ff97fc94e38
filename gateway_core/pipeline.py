"""One request's path, top to bottom: admit, authenticate, validate, plan, allow, policy, rank,
reserve, execute, settle, log, trace.

``run`` is the whole path as one generator (text chunks while streaming; the
``GenerateResult`` as its return value), and every step is a named call on the
``Runtime``:

0. ``admit``: under ``GATEWAY_ON_LOG_FAILURE=refuse``, turn the request away while the
   usage log can store nothing, before anything is sent (and before anything would be
   recorded: a refusal row could not be stored either);
1. ``gate.authenticate``: the principal the request runs as (a key, or no key);
2. ``planning.check``: refuse what the configuration cannot serve (the request object
   validated its own fields when it was built);
3. ``planning.build_plan``: chat messages, and a token and cost estimate per route;
4. ``gate.allowed``: only the candidates the key may use (403 ``model_not_allowed``);
5. ``routing_policy.decide``: the routing policy, when one is configured, refuses (403
   ``policy_denied``), excludes candidates or masks the prompt; its decision rides on the plan;
6. ``planning.rank_plan``: the pure router orders the candidates and says why (the policy's
   preferred candidates first);
7. ``gate.reserve``: rate limits checked and the worst case held on every budget, before
   the first provider call (429); past a soft limit, ``gate.step_down`` ranks cheapest first;
8. ``executor.execute``: call candidates in order, falling back on retryable failures,
   recording each attempt in the ``Trail`` as it happens;
9. ``gate.settle``: the reservation becomes what the attempts were billed;
10. ``log``: one usage-log row per attempt (with the policy's version and decision),
    queued to the background writer;
11. ``telemetry``: the request's span (opened once it is planned, with an attempt span per
    provider call through the ``Trail``) is closed and handed to the exporter's worker.

Settle, log and the span's end run in a ``finally``: a request that fails, or whose stream
the caller abandons (``GeneratorExit``), is settled, logged and traced as completely as one
that answers. A refusal by the governance steps is recorded as a rejected request
(``gate.Refusals``), never as an attempt. A step that belongs between two of these is one
more line here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping

from . import executor, gate, planning, routing_policy
from .errors import AuditLogUnavailable
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
    key=None,
    source: str = "python",
    on_attempt: Callable | None = None,
    trace_headers: Mapping[str, str] | None = None,
    trail: Trail | None = None,
) -> Generator[StreamItem, None, GenerateResult]:
    """``key``: who the request runs as (``gate.authenticate``); ``source``: who is calling, for
    refused requests; ``trace_headers``: the incoming HTTP request's headers when the REST API
    serves it; ``trail``: the caller's own, to read the limits news from while streaming."""
    admit(rt)
    trail = Trail() if trail is None else trail
    refusals = gate.Refusals(rt, request_id, request.user, source, trail)
    with refusals:
        principal = gate.authenticate(rt, key, trail)
        planning.check(rt, request)
        plan = planning.build_plan(rt, request, streaming=streaming)
        plan = gate.allowed(rt, plan, principal)
    trace = telemetry.start(rt, plan, trace_headers, principal)
    trail.watch, admission, outcome = telemetry.watcher(rt, trace), None, None
    try:
        with refusals:
            plan = routing_policy.decide(rt, plan, principal, trail)
        plan = planning.rank_plan(rt, plan)
        with refusals:
            admission = gate.reserve(rt, plan, principal, trail)
        plan = gate.step_down(rt, plan, admission, trail)
        outcome = yield from executor.execute(rt, plan, request_id, trail, on_attempt)
        return outcome
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        gate.settle(rt, admission, trail)
        log(rt, plan, request_id, trail)
        telemetry.end(trace, outcome, trail.policy)


def admit(rt: Runtime) -> None:
    """An unrecorded call is worse than no call when the policy says so (``usage.health``)."""
    if not rt.usage_log.admits():
        raise AuditLogUnavailable(
            "the usage log cannot record requests now (its database and spill directory are failing, or its memory"
            " bound is reached); nothing was sent to a provider"
        )


def log(rt: Runtime, plan: planning.Plan, request_id: str, trail: Trail) -> None:
    """Queue one row per attempt; the request path never waits on disk."""
    rows = request_rows(
        plan, request_id, trail.attempts, trail.result, rt.prices, rt.store_content, key_name=trail.key_name, team=trail.team
    )
    for row in rows:
        rt.usage_log.write(row)


def complete(
    rt: Runtime,
    request: GenerateRequest,
    request_id: str,
    trace_headers: Mapping[str, str] | None = None,
    *,
    key=None,
    source: str = "python",
) -> GenerateResult:
    """``run`` to its end without streaming: the result, or the request's error."""
    steps = run(rt, request, request_id, streaming=False, key=key, source=source, trace_headers=trace_headers)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
