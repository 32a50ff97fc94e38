"""The cost panels in the console: forecast, what-if, bill vs log, the evidence pack, vote progress."""

from __future__ import annotations

from console_support import assert_clean, goto, open_console

from gateway_core.usage import UsageLog
from gateway_core.usage.demo_history import seed_demo


def _seeded(db) -> None:
    seed_demo(db, requests=3000, days=20, seed=4)


def test_analytics_forecasts_replays_and_reconciles_a_demo_bill(console_env):
    _seeded(console_env)
    at = goto(open_console(), "analytics")
    headers = [h.value for h in at.subheader]
    assert {"Forecast and spend spikes", "What if", "Bill vs log"} <= set(headers)
    assert any(m.label.startswith("Forecast for ") for m in at.metric)

    at.selectbox(key="whatif_priority").select("low_cost")
    at.multiselect(key="whatif_exclude").select("bedrock")
    at.button[[b.label for b in at.button].index("Replay the period")].click().run()
    assert_clean(at)
    text = "\n".join(m.value for m in at.markdown)
    assert "**What if:** priority low_cost; without bedrock" in text
    assert any(m.label == "Requests that move" for m in at.metric)

    at.button(key="bill_demo").click().run()
    assert_clean(at)
    alerts = [w.value for w in at.warning]
    assert any("1 of 6 models differ from the log by more than 5%" in a for a in alerts), alerts
    assert any(s.value.startswith("Imported demo-cost-details.csv") for s in at.success)


def test_providers_price_table_carries_the_bill_gap_and_compare_shows_vote_progress(console_env):
    _seeded(console_env)
    at = goto(open_console(), "analytics")
    at.button(key="bill_demo").click().run()
    at = goto(at, "providers")
    gaps = [w.value for w in at.warning if "the bill counts +10.0% tokens" in w.value]
    assert len(gaps) == 1
    with UsageLog(console_env) as log:
        for i in range(6):
            log.record_vote(compare_id=f"c{i}", verdict="a", task="chat", provider_a="azure", model_a="gpt-4o-mini",
                            provider_b="bedrock", model_b="anthropic.claude-3-haiku-20240307-v1:0")  # fmt: skip
    at = goto(at, "compare")
    assert any("the quality floor judges a model once it has 30 votes" in c.value for c in at.caption)
    assert len(at.dataframe) >= 2  # the vote summary and the progress per pair
