"""Pure formatting for the console: money, durations, savings, tokens, attempts and telemetry.

Nothing here imports Streamlit, so every rule about how a number or an error reaches an
operator's screen is tested on plain values. Money arrives as ``Decimal`` (or ``None`` for
an unpriced model, which is shown as such, never as $0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

import pandas as pd

from gateway_core.explain import model_name
from gateway_core.providers import label as provider_label

UNPRICED = "unpriced"
DASH = "—"


def usd_short(value: Decimal | float | None, *, unpriced: str = UNPRICED) -> str:
    """Dollars in at most ~8 characters, for headline tiles: $28.41, $1.3k, $0.00142."""
    if value is None:
        return unpriced
    v = Decimal(str(value))
    a = abs(v)
    if a == 0:
        return "$0"
    if a >= 10_000:
        return f"${v / 1000:,.0f}k"
    if a >= 1000:
        return f"${v / 1000:,.1f}k"
    if a >= Decimal("0.1"):
        return f"${v:,.2f}"
    return f"${float(v):.3g}" if a >= Decimal("0.0001") else f"${float(v):.2e}"


def usd(value: Decimal | float | None, *, unpriced: str = UNPRICED) -> str:
    """Dollars with enough precision that a single small request is not shown as $0.00."""
    if value is None:
        return unpriced
    v = Decimal(str(value))
    a = abs(v)
    if a == 0:
        return "$0"
    if a < Decimal("0.01"):
        return f"${v:.6f}"
    if a < 100:
        return f"${v:,.4f}"
    return f"${v:,.2f}"


def ms(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def seconds(value_ms: float | None) -> str:
    """Milliseconds shown in seconds, for pages that compare latencies side by side: 0.42 s, 31 s."""
    if value_ms is None:
        return DASH
    s = value_ms / 1000
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s" if s < 100 else f"{s:,.0f} s"


def change(current: float | None, previous: float | None, *, points: bool = False) -> str | None:
    """The change against the previous period for a metric tile: "+12%", "−3.1%", or for a
    rate "+0.4 pp" (percentage points); None when there is nothing to compare with."""
    if current is None or previous is None:
        return None
    if points:
        return f"{(current - previous) * 100:+.1f} pp"
    if previous == 0:
        return None
    ratio = (current - previous) / abs(previous)
    return f"{ratio:+.0%}" if abs(ratio) >= 0.1 else f"{ratio:+.1%}"


def saving(cost: Decimal | None, counterfactual: Decimal | None) -> tuple[Decimal, float] | None:
    """(absolute saving, fraction of the counterfactual) when both sides are priced."""
    if cost is None or counterfactual is None or counterfactual <= 0:
        return None
    delta = counterfactual - cost
    return delta, float(delta / counterfactual)


def saving_text(cost: Decimal | None, counterfactual: Decimal | None) -> str:
    s = saving(cost, counterfactual)
    if s is None:
        return ""
    delta, frac = s
    if delta >= 0:
        return f"saved {usd(delta)} ({frac:.0%})"
    return f"cost {usd(-delta)} more ({-frac:.0%})"


def tokens_text(result) -> str:
    """Estimated vs actual tokens, naming where the actual count came from."""
    u = result.usage
    est = getattr(result, "estimated_usage", None)
    actual = f"{u.input_tokens:,} in / {u.output_tokens:,} out ({u.source})"
    if est is None:
        return actual
    return f"est {est.input_tokens:,} / {est.output_tokens:,} → {actual}"


def short_model(model: str | None) -> str:
    """Bedrock ids are long; keep the family and version readable in a badge."""
    if not isinstance(model, str) or not model:
        return DASH
    m = model.split("/")[-1]
    if m.startswith("anthropic."):
        m = m[len("anthropic.") :]
    return m.removesuffix("-v1:0")


def attempts_frame(attempts: Iterable) -> pd.DataFrame:
    """One row per provider attempt, including why a failed one failed."""
    rows = []
    for i, a in enumerate(attempts, start=1):
        u = a.usage
        rows.append(
            {
                "#": i,
                "provider": a.provider,
                "model": a.model,
                "status": a.status,
                "latency": ms(a.latency_ms),
                "TTFT": ms(a.ttft_ms),
                "tokens": f"{u.input_tokens}/{u.output_tokens}" if u else DASH,
                "cost": usd(a.cost_usd, unpriced=DASH) if a.status == "ok" else DASH,
                "error": a.error_type or "",
                "why": a.error_message or "",
                "retryable": "" if a.retryable is None else ("yes" if a.retryable else "no"),
            }
        )
    return pd.DataFrame(rows)


def failure_lines(attempts: Iterable) -> list[str]:
    """Why each failed attempt failed, in full: "Attempt 1, Azure OpenAI gpt-4o-mini: rate_limited: 429 ..."."""
    out = []
    for i, a in enumerate(attempts, start=1):
        if a.status == "error":
            reason = f"{a.error_type}: {a.error_message}" if a.error_message else (a.error_type or "failed")
            out.append(f"Attempt {i}, {provider_label(a.provider)} {model_name(a.model)}: {reason}")
    return out


_MARKDOWN = re.compile(r"([\\`*_\[\]|<>~$])")


def md_escape(text: str | None) -> str:
    """Text shown inside a Markdown line exactly as written (no accidental emphasis, links,
    HTML or maths); for text that does not start a line, where "-", "#" or "1." could not
    begin a list or a heading."""
    return _MARKDOWN.sub(r"\\\1", text or "")


def prices_frame(rows: Iterable, in_use: set[tuple[str, str]] = frozenset()) -> pd.DataFrame:
    """The price table as shown to an operator: USD per 1M tokens, provenance, lifecycle.

    ``in_use`` holds the (provider, canonical model) pairs the gateway is configured with."""
    return pd.DataFrame(
        [
            {
                "in use": (p.provider, p.model) in in_use,
                "provider": p.provider,
                "model": p.model,
                "input $/1M": float(p.input),
                "output $/1M": float(p.output),
                "cached input $/1M": None if p.cached_input is None else float(p.cached_input),
                "status": p.status,
                "source": p.source,
                "verified": p.verified_at.isoformat() if p.verified_at else "",
                "notes": p.notes,
            }
            for p in rows
        ]
    )


def health_frame(status: Iterable[dict], logged: pd.DataFrame, now=None) -> pd.DataFrame:
    """Health per (provider, model): the gateway's configured routes with their breaker state
    (``Gateway.provider_status()``), and calls, error rate and latency over the chosen window
    from the log (``Analytics.provider_health``). Models seen in the log but no longer
    configured are listed too, since their traffic is part of the window."""
    seen = {(r["provider"], r["model"]): r for r in logged.to_dict("records")} if len(logged) else {}
    rows = []
    routes = [(s["provider"], s["model"], s.get("mode", ""), s.get("breaker", "")) for s in status]
    routes += [(p, m, "not configured", DASH) for p, m in seen if (p, m) not in {(r[0], r[1]) for r in routes}]
    for provider, model, mode, breaker in routes:
        r = seen.get((provider, model), {})
        rows.append(
            {
                "provider": provider_label(provider),
                "model": short_model(model),
                "mode": mode,
                "breaker": breaker,
                "calls": int(r.get("calls") or 0),
                "error rate": pct(present(r.get("error_rate"))),
                "p50": ms(present(r.get("p50_ms"))),
                "p90": ms(present(r.get("p90_ms"))),
                "TTFT p90": ms(present(r.get("ttft_p90_ms"))),
                "last call": ago(present(r.get("last_call")), now),
            }
        )
    return pd.DataFrame(rows)


def ago(ts, now=None) -> str:
    """How long ago a UTC timestamp was: "just now", "4 min ago", "3 h ago", "2 days ago"."""
    if ts is None:
        return DASH
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else pd.Timestamp(now)
    seconds = max(0.0, (now - pd.Timestamp(ts)).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86_400:.0f} days ago"


def lifecycle_warnings(status: Iterable[dict]) -> list[str]:
    """One sentence per configured model that is retired, legacy or missing from the price table."""
    out = []
    for s in status:
        name = f"{s['provider']}/{s['model']}"
        price_status = s.get("price_status")
        if price_status == "retired":
            out.append(f"{name} is retired by its provider: calls may fail; move to a current model.")
        elif price_status == "legacy":
            out.append(f"{name} is a legacy model: plan a migration before it is retired.")
        elif price_status is None:
            out.append(f"{name} has no price row: its spend is counted as unpriced.")
    return out


STATUS_ICONS = {"ok": ":material/check_circle:", "error": ":material/error:", "cancelled": ":material/cancel:"}


def present(value):
    """``value``, or None when it is missing: a frame's NULL arrives as None, NaN or NaT, and
    NaN is truthy, so ``row.get(...) or default`` alone would keep it."""
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # lists and other values pandas cannot test
        return value


def request_label(row) -> str:
    """One audit-log line: when, who served it, outcome, cost, latency, user and task."""

    def get(key):
        return present(row.get(key))

    ts = pd.Timestamp(row["ts"]).strftime("%Y-%m-%d %H:%M:%S")
    served = f"{get('provider')} · {short_model(get('model'))}" if get("provider") else "not sent"
    status = get("status") or "?"
    outcome = status if status == "ok" else f"{status} ({get('error_type') or '?'})"
    attempts = int(get("attempts") or 1)
    parts = [ts, served, outcome]
    if attempts > 1:
        parts.append(f"{attempts} attempts")
    parts.append(usd(get("cost_usd"), unpriced=DASH))
    parts.append(ms(get("latency_ms")))
    parts.append(f"{get('user') or 'anonymous'} / {get('task') or DASH}")
    return " · ".join(parts)


def attempt_detail_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``Analytics.attempts_for`` worth reading in an expanded request."""
    cols = [
        "attempt",
        "provider",
        "model",
        "status",
        "error_type",
        "error_message",
        "latency_ms",
        "ttft_ms",
        "prompt_tokens_est",
        "input_tokens",
        "output_tokens",
        "token_source",
        "cost_est_usd",
        "cost_usd",
        "counterfactual_provider",
        "counterfactual_cost_usd",
        "route_reason",
        "policy_decision",
        "policy_rules",
        "policy_version",
    ]
    return frame[[c for c in cols if c in frame.columns]]


def telemetry_text(described: dict) -> str:
    """The sidebar's telemetry line, from ``Telemetry.describe()``: on and where to, or off and why.

    The description never holds a credential (the endpoint comes without user info or
    query, collector headers are left out), so nothing here has to hide anything."""
    if not described.get("enabled"):
        return f"Telemetry **off** · {described.get('reason') or 'not configured'}"
    signals = [f"{name} {described.get(name)}" for name in ("traces", "metrics") if described.get(name) not in (None, "none")]
    where = f"`{described['endpoint']}` ({described.get('protocol')})" if described.get("endpoint") else "the console"
    line = f"Telemetry **on** → {where} · {', '.join(signals)}"
    if described.get("content"):
        line += " · content masked"
    if described.get("dropped_requests"):
        line += f" · {described['dropped_requests']} requests dropped"
    return line
