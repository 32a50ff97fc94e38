"""What the request path tells telemetry: the request span's start and end, and a span per provider call.

``pipeline.run`` calls ``start`` once a request is planned, hands ``watcher``'s callable to
the executor's ``Trail`` (the executor calls it as each provider call starts and ends the
attempt it returns, so it never imports telemetry), and calls ``end`` in its ``finally``
with the result or the exception, a cancelled stream's ``GeneratorExit`` included. With
telemetry off, ``start`` returns the shared no-op trace and ``watcher`` returns None, so
the request pays for two attribute reads. The rest are pure functions from the gateway's
own objects (a principal, a policy decision, budget statuses) to the attribute values the
conventions module accepts, so team, key and policy flow in once those objects reach the
request path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from . import AttemptTrace, RequestTrace

OPERATION = "chat"  # gen_ai.operation.name: every gateway request is a chat completion
_NOOP = RequestTrace()


class Cancelled(Exception):
    """Stands for a stream its reader abandoned, so the span's ``error.type`` is ``cancelled``."""

    type_name = "cancelled"


CANCELLED = Cancelled()


def start(rt, plan, trace_headers: Mapping[str, str] | None = None, principal=None) -> RequestTrace:
    """Open the request's span. ``trace_headers`` are the incoming HTTP headers (a REST
    request: a SERVER span continuing any ``traceparent``); None for the Python API."""
    telemetry = rt.telemetry
    if not telemetry.enabled:
        return _NOOP
    request = plan.request
    return telemetry.start_request(
        OPERATION,
        request.model,
        max_tokens=plan.max_tokens,
        temperature=request.temperature,
        messages=plan.messages,
        parent_headers=trace_headers,
        gateway_attrs=request_attributes(request, principal),
    )


def watcher(rt, trace: RequestTrace) -> Callable[[object], AttemptTrace] | None:
    """For the ``Trail``: a call per candidate that opens its attempt span; None when off."""
    if trace is _NOOP:
        return None
    providers = rt.providers

    def watch(candidate) -> AttemptTrace:
        p = providers[candidate.provider]
        return trace.attempt(
            getattr(p, "otel_name", candidate.provider),
            candidate.model,
            getattr(p, "server_address", None),
            getattr(p, "server_port", None),
        )

    return watch


def end(trace: RequestTrace, outcome, decision=None) -> None:
    """Close the request's span with the ``GenerateResult`` or the exception that ended it."""
    if trace is _NOOP:
        return
    if isinstance(outcome, GeneratorExit):
        outcome = CANCELLED
    label = decision_label(decision)
    trace.end(outcome, {"policy.decision": label} if label is not None else None)


# --- pure mappings ---------------------------------------------------------------------------


def request_attributes(request, principal=None) -> dict:
    """The gateway attributes known when a request starts: task, priority, and who sent it."""
    attrs = {"task": request.task, "priority": request.priority}
    if principal is not None:
        attrs["team"] = principal.team
        attrs["key_name"] = getattr(principal, "logged_key_name", principal.key_name)  # None: no key
    return attrs


def decision_label(decision) -> str | None:
    """A policy decision in one word: ``deny``, ``exclude``, ``prefer`` or ``allow``; None without one."""
    return None if decision is None else decision.label


def budget_rows(statuses: Iterable) -> list[tuple[object, dict]]:
    """Budget statuses (``owner`` ``team:<name>`` or ``key:<name>``) as ``(remaining USD, scope)``
    rows for the ``gateway.budget.remaining`` gauge; remaining never goes below zero."""
    rows = []
    for status in statuses:
        kind, _, name = status.owner.partition(":")
        scope = {"team": name} if kind == "team" else {"key_name": name} if kind == "key" else None
        if scope is None:
            continue
        remaining = status.limit_usd - status.spent_usd - status.reserved_usd
        rows.append((max(remaining, 0), scope))
    return rows


def breaker_rows(rt) -> list[tuple[str, str, str]]:
    """Every route's breaker state as ``(provider otel_name, model, state)`` for the gauge."""
    rows = []
    for route in rt.routes:
        provider = rt.providers.get(route.provider)
        name = getattr(provider, "otel_name", route.provider)
        rows.append((name, route.model, rt.breaker.state((route.provider, route.model))))
    return rows
