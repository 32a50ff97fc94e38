"""Routing decisions in plain words: one sentence per answer, and readable model names.

``route_sentence`` turns a ``router.Ranking`` (the ordered candidates with their
estimates, scores and latencies) into what an operator wants to read under an answer,
such as "Azure OpenAI gpt-4o-mini: cheapest for chat at $0.000051, 5.3× less than AWS
Bedrock Claude 3.5 Haiku". The raw scores stay in ``route_reason`` for whoever wants the
details. The rival named is the best candidate on another provider by the request's
priority, because "why this cloud and not the other" is the question a comparison asks.
Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from .pricing import split_profile
from .providers import label

_DATED = re.compile(r"-\d{8}(-v\d+(:\d+)?)?$|-v\d+(:\d+)?$")


def model_name(model: str | None) -> str:
    """A readable name: Claude ids become "Claude 3.5 Haiku" / "Claude Sonnet 4.5"; others stay as they are."""
    if not isinstance(model, str) or not model:
        return "—"
    bare = split_profile(model)[1]
    name = bare.split(".", 1)[1] if bare.startswith("anthropic.") else bare
    if not name.startswith("claude-"):
        return model
    parts = _DATED.sub("", name).split("-")[1:]
    numbers = [p for p in parts if p.isdigit()]
    words = [p.capitalize() for p in parts if not p.isdigit()]
    version = ".".join(numbers)
    if parts and parts[0].isdigit():  # the 3.x generation puts the version first
        return " ".join(["Claude", version, *words]).strip()
    return " ".join(["Claude", *words, version]).strip()


def money(value: Decimal | float | None) -> str:
    """Dollars with two significant digits however small: $0.000051, $0.0042, $1.30."""
    if value is None:
        return "unpriced"
    v = float(value)
    if v == 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(abs(v))))
    return f"${v:,.{decimals}f}"


def seconds(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def times(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def _name(c) -> str:
    return f"{label(c.provider)} {model_name(c.model)}"


def _sidelined(ranking) -> set[str]:
    """Labels ranked last for a reason other than their score (open breaker, quality floor)."""
    return {c.label for c, _, why in ranking.rejected if why.startswith("breaker open") or why == "below quality floor"}


def _candidates(ranking) -> list:
    dropped = [c for c, _, why in ranking.rejected if why.startswith("dropped")]
    return [c for c in (*ranking.ordered, *dropped) if c.label not in _sidelined(ranking)]


def _rival(ranking, chosen, key):
    """The best other candidate by ``key`` (lower is better), preferring another provider;
    sidelined candidates are left to the caveats, since their scores did not decide."""
    others = [c for c in _candidates(ranking) if c.label != chosen.label and key(c) is not None]
    elsewhere = [c for c in others if c.provider != chosen.provider]
    pool = elsewhere or others
    return min(pool, key=key) if pool else None


def _cost(c):
    return None if c.est_cost_usd is None else float(c.est_cost_usd)


def _p90(ranking, c):
    value = ranking.latencies.get(c.label)
    return None if value is None else value[0]


def _cheapest(ranking, chosen, task: str) -> str:
    own = _cost(chosen)
    rival = _rival(ranking, chosen, _cost)
    if own is None:
        return f"no priced model was available for {task}, so it answered unpriced"
    head = f"cheapest{' available' if _sidelined(ranking) else ''} for {task} at {money(own)}"
    if rival is None:
        return head if _sidelined(ranking) else head + "; no other model has a price"
    ratio = _cost(rival) / own if own > 0 else math.inf
    if ratio < 1.1:
        return f"{head}, about the same as {_name(rival)} ({money(_cost(rival))})"
    return f"{head}, {times(ratio)} less than {_name(rival)}"


def _fastest(ranking, chosen, task: str) -> str:
    own, prior = ranking.latencies.get(chosen.label, (None, True))
    metric = "time to first token" if ranking.streaming else "latency"
    if prior:
        return f"no recent {metric} samples, so it was ranked on the typical figure ({seconds(own)}) for {task}"
    rival = _rival(ranking, chosen, lambda c: _p90(ranking, c))
    head = f"fastest for {task}, p90 {metric} {seconds(own)}"
    return head if rival is None else f"{head} against {seconds(_p90(ranking, rival))} for {_name(rival)}"


def _balanced(ranking, chosen, task: str) -> str:
    rival = _rival(ranking, chosen, lambda c: ranking.scores.get(c.label))
    if rival is None:
        return f"the only model for {task}"
    own_cost, rival_cost = _cost(chosen), _cost(rival)
    own_lat, rival_lat = _p90(ranking, chosen), _p90(ranking, rival)
    speed = f"p90 {seconds(own_lat)} against {seconds(rival_lat)}"
    if own_cost is None or rival_cost is None or own_cost <= 0:
        return f"best balance of cost and speed for {task} ({speed} for {_name(rival)})"
    ratio = rival_cost / own_cost
    if own_lat is None or rival_lat is None or abs(own_lat - rival_lat) <= 0.05 * max(own_lat, rival_lat):
        similar = f"at a similar speed (p90 {seconds(own_lat)})"
        if ratio >= 1:
            return f"best balance of cost and speed for {task}: {times(ratio)} cheaper than {_name(rival)} {similar}"
        return f"best balance of cost and speed for {task}: {times(1 / ratio)} the cost of {_name(rival)} {similar}"
    if ratio >= 1 and own_lat < rival_lat:
        return f"cheaper ({times(ratio)} less) and faster ({speed}) than {_name(rival)} for {task}"
    if ratio >= 1:
        return f"best balance of cost and speed for {task}: {times(ratio)} cheaper than {_name(rival)}, {speed}"
    return f"best balance of cost and speed for {task}: faster than {_name(rival)} ({speed}) at {times(1 / ratio)} its cost"


def _caveats(ranking) -> list[str]:
    out = []
    for c, _, why in ranking.rejected:
        if why.startswith("breaker open"):
            out.append(f"{_name(c)} is paused (its circuit breaker is open)")
        elif why == "below quality floor":
            out.append(f"{_name(c)} went last (below the quality floor for this task)")
    return out


def route_sentence(request, ranking, provider: str, model: str) -> str:
    """Why ``provider``/``model`` answered ``request``, in one or two plain sentences."""
    chosen = next((c for c in ranking.ordered if (c.provider, c.model) == (provider, model)), None)
    who = f"{label(provider)} {model_name(model)}"
    if chosen is None or ranking.first is None:
        return f"{who} answered."
    if chosen.label != ranking.first.label:
        return f"{who}: took over after {_name(ranking.first)} failed (the attempts are listed below)."
    task = request.task
    if request.model:
        why = "the model you pinned"
    elif request.provider_hint == provider:
        why = f"you asked for {label(provider)}"
    elif ranking.explored == chosen.label:
        why = "tried now and then so its latency figures stay current, although another model scored better"
    elif ranking.priority == "low_cost":
        why = _cheapest(ranking, chosen, task)
    elif ranking.priority == "low_latency":
        why = _fastest(ranking, chosen, task)
    else:
        why = _balanced(ranking, chosen, task)
    sentence = f"{who}: {why}."
    caveats = _caveats(ranking)
    return sentence + (" " + "; ".join(caveats) + "." if caveats else "")
