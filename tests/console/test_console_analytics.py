"""The Analytics and Providers pages over seeded history: what an operator reads on them."""

from __future__ import annotations

import re

from console_support import assert_clean, charts, encoding, goto, open_console

from gateway_core.usage import UsageLog
from gateway_core.usage.demo_history import seed_demo

TILES = ("Spend", "Saved", "Overspent", "Cost / 1k requests", "Requests", "Error rate", "Fallback rate", "Rejected")


def _headline(at) -> list:
    """The headline tiles: they come first; the cost panels' forecast tiles follow further down."""
    return list(at.metric)[: len(TILES)]


def _money(text: str) -> float:
    assert re.fullmatch(r"\$[\d,.]+k?", text), text
    return float(text[1:].replace(",", "").rstrip("k")) * (1000 if text.endswith("k") else 1)


def _chart(at, x_title: str):
    return next((spec, frame) for spec, frame in charts(at) if encoding(spec)["x"].get("title") == x_title)


def test_saved_and_overspent_are_separate_tiles_with_their_provider_split(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "analytics")
    tiles = {m.label: m for m in _headline(at)}
    assert tuple(tiles) == TILES
    saved, overspent = _money(tiles["Saved"].value), _money(tiles["Overspent"].value)
    assert saved > 0 and overspent > 0  # the demo mix saves on one provider and overspends on the other
    assert "by provider: Azure OpenAI $" in tiles["Saved"].help
    assert "by provider: AWS Bedrock $" in tiles["Overspent"].help
    _, split = _chart(at, "against the counterfactual (USD)")
    assert set(split["kind"]) == {"saved", "overspent"} and set(split["provider"]) == {"Azure OpenAI", "AWS Bedrock"}


def test_every_headline_tile_shows_its_change_against_the_previous_period(console_env):
    seed_demo(console_env, days=62, requests=4000)
    at = goto(open_console(), "analytics")
    deltas = {m.label: m.proto.delta for m in at.metric}
    assert all(deltas[label] for label in TILES if label != "Rejected"), deltas  # no refusals in either period
    assert re.fullmatch(r"[+-]\d+\.\d pp", deltas["Error rate"])
    assert all("Previous period:" in m.help for m in _headline(at))


def test_team_filter_narrows_the_numbers_and_spend_by_team_lists_every_team(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "analytics")
    teams = next(frame for _, frame in charts(at) if "team" in frame.columns and "provider" in frame.columns)
    assert set(teams["team"]) == {"search", "support", "data-science", "marketing"}
    requests_all = int(next(m.value for m in at.metric if m.label == "Requests").replace(",", ""))
    at.sidebar.multiselect(key="an_teams").select("support").run()
    assert_clean(at)
    support = int(next(m.value for m in at.metric if m.label == "Requests").replace(",", ""))
    assert 0 < support < requests_all


def test_charts_draw_bars_readable_model_names_and_mark_the_partial_day(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "analytics")
    histogram, bins = _chart(at, "cost per request (USD, log)")
    assert histogram["mark"]["type"] == "bar" and encoding(histogram)["y2"] == {"datum": 0}  # bars rise from zero
    assert bins["requests"].sum() > 0
    estimate, models = next((s, f) for s, f in charts(at) if "bias_pct" in f.columns)
    names = set(models["model"])
    assert {"Claude 3 Haiku", "Claude 3.5 Haiku", "gpt-4o-mini"} <= names and not any("anthropic." in n for n in names)
    assert estimate["encoding"]["color"]["legend"]["orient"] == "bottom"  # keeps the plot wide on a phone
    spend, frame = next((s, f) for s, f in charts(at) if "period" in f.columns and "cost_usd" in f.columns)
    assert (frame["period"] == "so far (partial)").any() and (frame["period"] == "complete").any()
    errors, rates = next((s, f) for s, f in charts(at) if "rate" in f.columns)
    assert set(rates["kind"]) == {"error rate", "fallback rate"}


def test_latency_table_is_in_seconds_like_the_headline(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "analytics")
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["provider", "model", "n"]
    assert table["p99_latency_ms"].max() < 120  # seconds: the slowest demo call takes about 30 s
    assert "Claude 3.5 Haiku" in set(table["model"])
    assert re.search(r"\*\*Latency\*\* p50 \d+\.\d+ s · p95 \d+\.\d+ s", at.caption[0].value)


def test_rejected_tile_counts_refusals_from_their_own_table(console_env):
    seed_demo(console_env, days=7, requests=500)
    with UsageLog(console_env) as log:
        for field in ("prompt", "max_tokens"):
            log.write_rejected({"request_id": f"req_{field}", "source": "api", "field": field, "error_type": "validation_error"})
    at = goto(open_console(), "analytics")
    assert next(m.value for m in at.metric if m.label == "Rejected") == "2"


def test_provider_health_comes_from_the_log_after_loading_history(console_env):
    seed_demo(console_env, days=30, requests=3000)
    at = goto(open_console(), "providers")
    health = at.dataframe[0].value
    logged = health[health["calls"] > 0]
    assert set(logged["provider"]) == {"Azure OpenAI", "AWS Bedrock"}  # not "0 samples" for this process
    assert logged["error rate"].str.fullmatch(r"\d+\.\d%").all()
    at.segmented_control(key="prov_window").set_value("15 min").run()
    assert_clean(at)
    assert at.dataframe[0].value["calls"].sum() < logged["calls"].sum()
    at.toggle(key="prov_synthetic").set_value(False).run()
    assert at.dataframe[0].value["calls"].sum() == 0


def test_load_demo_history_confirms_and_never_doubles_the_history(console_env):
    at = goto(open_console(), "providers")
    at.select_slider[0].set_value(5_000).run()
    at.button(key="prov_seed").click().run()
    assert_clean(at)
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 1 and toasts[0].startswith("Loaded 5,000 synthetic requests (")
    at.button(key="prov_seed").click().run()
    assert "replacing the previous" in at.toast[0].value
    goto(at, "analytics")
    assert next(m.value for m in at.metric if m.label == "Requests") == "5,000"
