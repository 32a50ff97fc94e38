"""The evidence pack's sections: each takes a ``report.ReportContext`` and returns (heading, HTML body).

A section asks ``Analytics`` for what it shows, writes the numbers a reader needs in words,
and embeds one or two charts. A section with nothing to show says so rather than vanishing,
so a reader can tell "no data" from "not covered".
"""

from __future__ import annotations

import pandas as pd

from . import report_charts as charts
from .replay import Scenario
from .report_html import esc, figure, metrics, table


def usd(v) -> str:
    return "unpriced" if v is None or v != v else f"${v:,.2f}"


def pct(v, signed: bool = False) -> str:
    return "-" if v is None or v != v else (f"{v:+.1f}%" if signed else f"{v:.1f}%")


def ms(v) -> str:
    return "-" if v is None or v != v else f"{v:,.0f} ms"


def _share(v) -> str:
    return pct(100 * v) if v == v and v is not None else "-"


def headline(ctx) -> tuple[str, str]:
    an, f = ctx.analytics, ctx.filters
    h = an.headline(f)
    fc = an.month_end_forecast(f, ctx.now.date())
    items = [
        ("spend", usd(h["spend_usd"])),
        ("requests", f"{h['requests']:,}"),
        ("cost per request", f"${h['cost_per_request']:.5f}"),
        ("saved by routing", f"{usd(h['savings_usd'])} ({pct(h['savings_pct'])})"),
        ("error rate", _share(h["error_rate"])),
        ("fallback rate", _share(h["fallback_rate"])),
        (f"forecast for {fc['month_end']:%B}", f"{usd(fc['forecast'])}"),
    ]
    spikes = an.spend_spikes(f)
    body = metrics(items) + (
        f"<p>Month to date {usd(fc['month_to_date'])}; at the last 7 days' run rate of {usd(fc['run_rate'])} a day, "
        f"the month ends near {usd(fc['forecast'])} (95% band {usd(fc['low'])} to {usd(fc['high'])}).</p>"
    )
    if spikes.empty:
        body += "<p>No day's spend stood more than 3 MADs (and 25%) above its trailing 14 days, for any team or model.</p>"
    else:
        body += "<p class='flag'>Spend spikes (more than 3 MADs and 25% above the trailing 14 days' median):</p>" + table(
            spikes.head(12),
            {"kind": None, "series": None, "day": None, "spend": usd, "median": usd, "score": lambda v: f"{v:.1f}"},
        )
    return "Summary", body


def spend_and_trend(ctx) -> tuple[str, str]:
    daily = ctx.analytics.daily_spend(ctx.filters, by="provider")
    if daily.empty:
        return "Spend and its trend", "<p class='note'>No spend in this period.</p>"
    per_day = daily.groupby("day")["spend"].sum().sort_index()
    complete = per_day[[d < ctx.now.date() for d in per_day.index]]  # today is not over yet
    per_day = complete if len(complete) else per_day
    half = len(per_day) // 2
    first, second = per_day.iloc[:half].mean(), per_day.iloc[half:].mean()
    trend = 100 * (second - first) / first if half and first else float("nan")
    by_provider = daily.groupby("provider", as_index=False)["spend"].sum().sort_values("spend", ascending=False)
    body = (
        f"<p>Average daily spend moved {pct(trend, True)} from the first half of the period to the second; "
        f"the busiest day was {per_day.idxmax()} at {usd(per_day.max())}.</p>"
        + figure(charts.spend_trend(daily), "Daily spend by provider.")
        + table(by_provider, {"provider": None, "spend": usd})
    )
    return "Spend and its trend", body


def saved_vs_overspent(ctx) -> tuple[str, str]:
    frame = ctx.analytics.saved_vs_overspent(ctx.filters)
    if frame.empty:
        return "Saved against overspent", "<p class='note'>No priced request with a counterfactual in this period.</p>"
    saved, over = frame["saved_usd"].sum(), frame["overspent_usd"].sum()
    n_over, n = int(frame["overspent_requests"].sum()), int(frame["requests"].sum())
    body = (
        f"<p>Against the cheapest alternative on another provider, routing saved {usd(saved)} and overspent "
        f"{usd(over)} ({n_over:,} of {n:,} requests went to the dearer side, usually for latency, a hint or a "
        f"fallback): net {usd(saved - over)}.</p>"
        + figure(charts.saved_vs_overspent(frame), "Saved above the axis, overspent below.")
    )
    return "Saved against overspent", body


def spend_per_team(ctx) -> tuple[str, str]:
    daily = ctx.analytics.daily_spend(ctx.filters, by="team")
    if daily.empty:
        return "Spend per team", "<p class='note'>No spend in this period.</p>"
    teams = daily.groupby("team", as_index=False)["spend"].sum().sort_values("spend", ascending=False)
    teams["share"] = 100 * teams["spend"] / teams["spend"].sum()
    body = figure(charts.spend_by(teams, "team")) + table(teams, {"team": None, "spend": usd, "share": pct})
    return "Spend per team", body


def reliability(ctx) -> tuple[str, str]:
    an, f = ctx.analytics, ctx.filters
    h = an.headline(f)
    errors = an.errors_over_time(f, "day")
    breakers = an.breaker_events(f)
    body = metrics(
        [
            ("error rate", _share(h["error_rate"])),
            ("fallback rate", _share(h["fallback_rate"])),
            ("requests routed around an open breaker", f"{int(breakers['requests'].sum()):,}"),
            ("p95 latency", ms(h["p95_latency_ms"])),
        ]
    )
    if not errors.empty:
        body += figure(charts.reliability(errors), "Share of requests that failed, and that fell back to another candidate.")
    if not breakers.empty:
        body += "<p>Days with an open circuit breaker:</p>" + table(breakers, {"day": None, "requests": None})
    return "Reliability: errors, fallbacks, breakers", body


def ab_results(ctx) -> tuple[str, str]:
    votes = ctx.analytics.model_votes()
    if votes.empty:
        return "Blind A/B results", "<p class='note'>No blind votes recorded yet (Compare page).</p>"
    progress = ctx.analytics.vote_progress(ctx.min_votes)
    ready = int((progress["progress"] >= 1).sum())
    cols = {
        "task": None,
        "provider": None,
        "model": None,
        "votes": None,
        "win_rate": _share,
        "ci_low": _share,
        "ci_high": _share,
        "cost_per_win_usd": lambda v: "-" if v is None or v != v else f"${v:.5f}",
        "frontier": lambda v: "yes" if v else "",
    }
    body = (
        f"<p>All votes recorded so far. Win rate is wins over votes taken part in; the interval is Wilson's 95%. "
        f"{ready} of {len(progress)} compared pairs have the {ctx.min_votes} votes per model the quality floor needs.</p>"
        + figure(charts.win_rates(votes))
        + figure(charts.frontier(votes), "Cost-quality frontier: filled shapes marked 'true' are models no other beats on both.")
        + table(votes.sort_values(["task", "win_rate"], ascending=[True, False]), cols)
    )
    return "Blind A/B results", body


def _scenarios(ctx) -> list[Scenario]:
    served = ctx.analytics.daily_spend(ctx.filters, by="provider")["provider"].unique().tolist()
    out = [Scenario(priority="low_cost"), Scenario(priority="low_latency")]
    if len(served) > 1:
        out += [Scenario(providers=(p,)) for p in served if p != "(none)"]
    return out


def replay_highlights(ctx) -> tuple[str, str]:
    rows, best = [], None
    for scenario in _scenarios(ctx):
        try:
            r = ctx.analytics.replay(scenario, ctx.prices, ctx.filters)
        except Exception as e:  # noqa: BLE001 - a scenario that cannot run is reported, not fatal
            rows.append({"scenario": scenario.describe(), "note": str(getattr(e, "message", e))})
            continue
        rows.append({"scenario": r.scenario, **r.totals, "note": ""})
        if best is None or (r.totals.get("saving_usd") or 0) > (best.totals.get("saving_usd") or 0):
            best = r
    frame = pd.DataFrame(rows)
    if best is None:
        return "What if: replay highlights", "<p class='note'>Nothing to replay in this period.</p>"
    cols = {
        "scenario": None,
        "moved_share": _share,
        "spend_usd": usd,
        "replay_spend_usd": usd,
        "saving_pct": lambda v: pct(v, True),
        "p50_change_ms": lambda v: "-" if v != v or v is None else f"{v:+,.0f} ms",
        "p90_change_ms": lambda v: "-" if v != v or v is None else f"{v:+,.0f} ms",
    }
    body = (
        "<p>Every successful request of the period re-ranked under another priority or provider set, "
        "re-tokenised for the model it would have gone to, with latency from that model's history.</p>"
        + table(frame.fillna(float("nan")), cols)
        + f"<p>Largest saving: <b>{esc(best.scenario)}</b>, by task:</p>"
        + figure(charts.replay_savings(best.by_task, "task"))
    )
    return "What if: replay highlights", body


def bill_state(ctx) -> tuple[str, str]:
    rec = ctx.analytics.bill_reconciliation(ctx.prices, ctx.threshold_pct)
    if rec["imports"].empty:
        return "Bill reconciliation", "<p class='note'>No cloud bill imported yet (<code>gateway bill import FILE</code>).</p>"
    models = rec["models"]
    flagged = models[models["flagged"]]
    body = table(rec["imports"].head(5), {"id": None, "file_name": None, "format": None, "first_day": None, "last_day": None})
    body += (
        f"<p>{len(flagged)} of {len(models)} models differ from the log by more than {ctx.threshold_pct:g}% "
        "in tokens or dollars over the billed days.</p>"
    )
    if not models.empty:
        body += figure(charts.bill_gap(models, ctx.threshold_pct), "Bill minus log; dashed lines mark the threshold.")
        body += table(
            models,
            {
                "provider": None,
                "model": None,
                "days": None,
                "bill_cost_usd": usd,
                "log_cost_usd": usd,
                "cost_gap_pct": lambda v: pct(v, True),
                "token_gap_pct": lambda v: pct(v, True),
                "flagged_days": None,
            },
            flag="flagged",
        )
    if not rec["unknown"].empty:
        body += "<p class='flag'>Bill lines no meter rule maps (not compared):</p>" + table(
            rec["unknown"], {"meter": None, "rows": None, "cost_usd": usd}
        )
    return "Bill reconciliation", body


def method_notes(ctx) -> tuple[str, str]:
    notes = [
        "Every figure comes from the gateway's usage log: one row per provider attempt, costed from the usage "
        "the provider reported and the versioned price table named above; an unpriced model is never counted as $0.",
        "Savings compare each request with the cheapest priced candidate on another provider, costed for the same "
        "prompt and the output actually produced.",
        "Latency percentiles on the summary come from log-bucketed histograms (within about 2%); replay percentiles "
        "are exact over the replayed requests.",
        "The forecast adds the mean of the last 7 complete days times the days left to the month to date; its band "
        "is ±1.96 standard deviations of that remainder. A spike is a day more than 3 scaled MADs above the median "
        "of its trailing 14 days.",
        "Replay applies the router's first-choice rules (cost, p90 latency or the balanced blend) to each logged request; "
        "hints, exploration and breaker states are not replayed.",
        "A/B intervals are 95% Wilson score intervals; the frontier keeps models no other model beats on both cost per "
        "win and win rate.",
        f"Bills are mapped to models by a meter table; gaps beyond {ctx.threshold_pct:g}% are flagged, and lines no rule "
        "maps are listed rather than dropped.",
        *ctx.notes,
    ]
    return "Notes on method", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
