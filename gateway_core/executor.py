"""The fallback executor: walks a ranked plan's candidates until one answers.

``execute`` is one generator for both ``generate`` and ``stream``: in streaming mode it
yields text (and, when the model calls tools, ``ToolCallDelta`` pieces) as it arrives; either way its return value is the ``GenerateResult``. Every
provider call becomes an ``Attempt`` recorded in the caller's ``Trail`` as it happens, so
whoever logs the request sees every attempt however the request ended (answered, failed,
or abandoned by its reader). A ``Trail`` may carry a ``watch`` callable: it is called as
each provider call starts, the object it returns gives the headers the call carries
(``inject_headers``) and hears how the call ended (``end``); that is how telemetry sees
attempts without this module knowing about it. It reads ``error.retryable`` (never SDK classes) to decide
between falling back and giving up, and it keeps the runtime's breaker and statistics up
to date. It never calls back into the ``Gateway``.

The rules that matter:

- A retryable error (429, 5xx, timeouts, connection errors, a stream cut before its
  first token) records the attempt and moves on to the next candidate.
- A non-retryable error ends the request with that error.
- A stream that breaks after text reached the caller is ``StreamInterrupted``: it is
  logged as an error and raised, never passed off as a success.
- A stream whose caller stops reading is ``cancelled``. The provider still bills what it
  generated, so the attempt carries an estimate: the delivered text's tokens, the prompt's
  estimated tokens, and their cost, with ``token_source`` ``estimated``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

from .errors import AllProvidersFailed, ProviderError, ProviderUnavailable, StreamInterrupted
from .planning import Plan
from .providers.base import Completion, ProviderCall, StreamItem
from .runtime import Runtime
from .types import Attempt, GenerateResult, Usage


@dataclass
class Trail:
    """What a request did, filled in as it happens: who it ran as and the limits news for
    its caller (set before execution), its attempts in order and, if one answered, the
    result. The log step reads it whether or not execution finished."""

    attempts: list[Attempt] = field(default_factory=list)
    result: GenerateResult | None = None
    watch: Callable | None = None  # candidate -> an attempt observer (inject_headers, end)
    key_name: str | None = None  # who it ran as: the key's name (never the key), its public id, its team
    key_id: str | None = None
    team: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    policy: object | None = None  # the routing policy's decision (governance.policy.PolicyDecision), once made


class _Outcome:
    """Mutable scratch for one attempt, so the generator body stays flat."""

    __slots__ = ("started", "ttft_ms", "parts", "completion", "sent")

    def __init__(self):
        self.started = time.perf_counter()
        self.ttft_ms = None
        self.parts: list[str] = []
        self.completion: Completion | None = None
        self.sent = False  # text or a tool-call piece reached the caller

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


def _call_stream(provider, call: ProviderCall, out: _Outcome):
    for item in provider.stream(call):
        if isinstance(item, Completion):
            out.completion = item
            continue
        if not item:
            continue
        if out.ttft_ms is None:
            out.ttft_ms = out.elapsed_ms()
        if isinstance(item, str):
            out.parts.append(item)
        out.sent = True
        yield item
    if out.completion is None:  # adapters check this too; a silent end is never a success
        raise ProviderUnavailable("stream ended without a final message", provider=provider.name)


def _as_provider_error(exc: Exception, provider: str, streamed_text: bool) -> ProviderError:
    if isinstance(exc, ProviderError):
        err = exc
    else:  # an adapter let something unmapped through: keep serving, but say what it was
        err = ProviderUnavailable(f"unexpected {type(exc).__name__} from {provider}", provider=provider)
    if streamed_text and not isinstance(err, StreamInterrupted):
        err = StreamInterrupted(
            f"stream interrupted after text was sent ({err.type_name}: {err.message})",
            provider=provider,
            status=err.status,
            code=err.code,
            retryable=False,
        )
    return err


def execute(
    rt: Runtime, plan: Plan, request_id: str, trail: Trail, on_attempt=None
) -> Generator[StreamItem, None, GenerateResult]:
    req = plan.request
    t_request = time.perf_counter()
    attempts = trail.attempts
    failed_providers: set[str] = set()
    for cand in _admitted(rt, plan, failed_providers):
        if on_attempt is not None:
            on_attempt(cand)
        watch = trail.watch(cand) if trail.watch is not None else None
        out = _Outcome()
        provider = rt.provider(cand.provider)
        headers = watch.inject_headers() if watch is not None else None
        call = ProviderCall.for_request(cand.model, plan.messages, _max_tokens(rt, plan, cand), req, headers)
        try:
            if plan.streaming:
                yield from _call_stream(provider, call, out)
            else:
                out.completion = provider.complete(call)
        except GeneratorExit:
            _record_failure(rt, cand, None, out.elapsed_ms())
            _failed(attempts, watch, _cancelled_attempt(rt, plan, cand, out))
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes an attempt
            err = _as_provider_error(exc, cand.provider, out.sent)
            _record_failure(rt, cand, err, out.elapsed_ms())
            _failed(attempts, watch, _error_attempt(cand, out, err, rt.scrub(err.message), plan.streaming))
            failed_providers.add(cand.provider)
            if not err.retryable or not req.fallback:
                err.attempts = tuple(attempts)
                err.request_id = request_id
                err.headers = trail.headers
                raise err from (None if err is exc else exc)
            continue
        trail.result = _success(rt, plan, request_id, cand, out, trail, t_request)
        if watch is not None:
            done = out.completion
            watch.end(
                attempts[-1],
                response_model=done.model,
                response_id=done.request_id,
                finish_reason=done.finish_reason,
                output_text=trail.result.text,
            )
        return trail.result
    failed = AllProvidersFailed(tuple(attempts), request_id=request_id)
    failed.headers = trail.headers
    raise failed


def _max_tokens(rt: Runtime, plan: Plan, cand) -> int:
    """The request's output cap, or the model's own when that is lower: the model cannot
    write more, and the service refuses a cap above its own."""
    price = rt.prices.lookup(cand.provider, plan.estimate_for(cand.provider, cand.model).priced_as)
    cap = price.max_output if price is not None else None
    return min(plan.max_tokens, cap) if cap else plan.max_tokens


def _failed(attempts: list, watch, attempt: Attempt) -> None:
    attempts.append(attempt)
    if watch is not None:
        watch.end(attempt)


def _record_failure(rt: Runtime, cand, err, latency_ms: float) -> None:
    # The breaker counts only retryable failures (a bad request says nothing about a
    # provider's health) but hears every outcome, so a half-open probe slot is freed.
    rt.breaker.record(cand.key, err if err is not None else _Cancelled())
    if err is not None and err.retryable:
        rt.latency.observe(cand.provider, cand.model, latency_ms, None, False)


def _record_success(rt: Runtime, plan: Plan, cand, completion: Completion, latency_ms: float, ttft_ms) -> None:
    rt.breaker.record_success(cand.key)
    rt.latency.observe(cand.provider, cand.model, latency_ms, ttft_ms if plan.streaming else None, True)
    rt.output_stats.observe(plan.request.task, completion.usage.output_tokens)
    if rt.provider(cand.provider).calibrate_input_tokens:
        est = plan.estimate_for(cand.provider, cand.model)
        rt.tokens.observe(est.priced_as, est.raw_input_tokens, completion.usage.input_tokens)


class _Cancelled(Exception):
    """The caller stopped reading: not the provider's fault, so not retryable."""

    retryable = False
    type_name = "cancelled"


def _admitted(rt: Runtime, plan: Plan, failed_providers: set):
    """Candidates in ranked order, each asked of the breaker just before its call, so a
    half-open probe slot is only taken by a call that really happens.

    After a failure the next candidate comes from a provider that has not failed yet when
    there is one: a throttled or broken cloud usually fails all its models at once. If
    every breaker is open the top candidate is tried anyway: an answer beats a certain
    failure."""
    remaining = list(plan.ranking.ordered)
    first = remaining[0] if remaining else None
    admitted = False
    while remaining:
        idx = next((i for i, c in enumerate(remaining) if c.provider not in failed_providers), 0)
        cand = remaining.pop(idx)
        if rt.breaker.allow(cand.key):
            admitted = True
            yield cand
            if not plan.request.fallback:
                return
    if not admitted and first is not None:
        yield first


def _error_attempt(cand, out: _Outcome, err, message, streamed) -> Attempt:
    return Attempt(
        provider=cand.provider,
        model=cand.model,
        status="error",
        latency_ms=out.elapsed_ms(),
        ttft_ms=out.ttft_ms,
        error_type=err.type_name,
        error_message=message,
        retryable=err.retryable,
        streamed=streamed,
        retry_after=getattr(err, "retry_after", None),
    )


def _cancelled_attempt(rt: Runtime, plan: Plan, cand, out: _Outcome) -> Attempt:
    """The caller hung up mid-stream: bill what was delivered, estimated, since the provider
    never sent its usage."""
    est = plan.estimate_for(cand.provider, cand.model)
    calibrate = rt.provider(cand.provider).calibrate_input_tokens
    delivered = rt.tokens.count_text(est.priced_as, "".join(out.parts), calibrate=calibrate).tokens if out.parts else 0
    usage = Usage(est.input_tokens, delivered, "estimated")
    return Attempt(
        provider=cand.provider,
        model=cand.model,
        status="cancelled",
        latency_ms=out.elapsed_ms(),
        ttft_ms=out.ttft_ms,
        usage=usage,
        cost_usd=rt.prices.cost(cand.provider, est.priced_as, usage),
        error_type=_Cancelled.type_name,
        error_message="caller stopped reading",
        retryable=False,
        streamed=plan.streaming,
    )


def _success(rt: Runtime, plan: Plan, request_id: str, cand, out: _Outcome, trail: Trail, t_request: float) -> GenerateResult:
    completion = out.completion
    latency = out.elapsed_ms()
    ttft = out.ttft_ms if plan.streaming else latency
    est = plan.estimate_for(cand.provider, cand.model)
    cost = rt.prices.cost(cand.provider, est.priced_as, completion.usage)
    attempt = Attempt(
        provider=cand.provider,
        model=cand.model,
        status="ok",
        latency_ms=latency,
        ttft_ms=ttft,
        usage=completion.usage,
        cost_usd=cost,
        streamed=plan.streaming,
    )
    attempts = trail.attempts
    attempts.append(attempt)
    _record_success(rt, plan, cand, completion, latency, ttft)
    cf = plan.counterfactual(cand.provider, completion.usage.output_tokens, rt.prices)
    text = completion.text if not plan.streaming or not out.parts else "".join(out.parts)
    total_ms = (time.perf_counter() - t_request) * 1000.0
    return GenerateResult(
        text=text,
        provider=cand.provider,
        model=cand.model,
        usage=completion.usage,
        cost_usd=cost,
        estimated_cost_usd=est.cost_usd,
        counterfactual_cost_usd=cf[2] if cf else None,
        latency_ms=total_ms,
        ttft_ms=(ttft + (total_ms - latency)) if ttft is not None else None,
        attempts=tuple(attempts),
        fallback_used=len(attempts) > 1,
        request_id=request_id,
        route_reason=plan.ranking.reason,
        ranking=plan.ranking,
        estimated_usage=plan.estimated_usage(cand.provider, cand.model),
        counterfactual_provider=cf[0] if cf else None,
        counterfactual_model=cf[1] if cf else None,
        finish_reason=completion.finish_reason,
        unpriced=cost is None,
        extra={"reported_model": completion.model, "provider_request_id": completion.request_id},
        tool_calls=completion.tool_calls,
        key_name=trail.key_name,
        team=trail.team,
        headers=trail.headers,
        policy=trail.policy,
    )
