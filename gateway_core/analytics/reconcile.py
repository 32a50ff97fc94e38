"""Bill against log, per day and model: pure arithmetic over two small frames.

``reconcile`` lines the bill (``billing.bill_by_model_day``) up with the log's tokens and
dollars for the same (day, provider, model), on the days the bill covers for that provider
only (a bill for one provider says nothing about another's days). Log models are first
folded to the price table's canonical id, as the bill's meter table names them, so an Azure
deployment or a dated model version lines up with its meter. A gap is bill minus log, in
tokens and in dollars, and as a share of the log; a day is flagged when either share is
beyond the threshold, or when one side has usage the other lacks.

``price_warnings`` sums the flagged models over the bill's period into one sentence each,
and says which way the evidence points: matching tokens with a dollar gap mean the table's
rate is not the billed one; a token gap means the log missed or over-counted usage.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

COLUMNS = (
    "day",
    "provider",
    "model",
    "bill_tokens",
    "log_tokens",
    "token_gap",
    "token_gap_pct",
    "bill_cost_usd",
    "log_cost_usd",
    "cost_gap_usd",
    "cost_gap_pct",
    "flagged",
)


def _pct(gap: pd.Series, base: pd.Series) -> pd.Series:
    return 100.0 * gap / base.where(base != 0)


def reconcile(bill: pd.DataFrame, log: pd.DataFrame, canonical: Callable[[str, str], str], threshold_pct: float) -> pd.DataFrame:
    """One row per (day, provider, model) with both sides and their gaps.

    ``bill`` has day, provider, model, bill_input, bill_output, bill_cost_usd (unknown meters,
    provider None, are left out here and listed elsewhere); ``log`` has day, provider, model,
    log_input, log_output, log_cost_usd."""
    bill = bill[bill["provider"].notna()].copy()
    if bill.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    bill["bill_tokens"] = bill["bill_input"].fillna(0) + bill["bill_output"].fillna(0)
    bill = bill.groupby(["day", "provider", "model"], as_index=False)[["bill_tokens", "bill_cost_usd"]].sum()
    covered = bill[["day", "provider"]].drop_duplicates()
    log = log.copy()
    log["day"] = log["day"].astype(str)
    log["model"] = [canonical(p, m) for p, m in zip(log["provider"], log["model"])]
    log["log_tokens"] = log["log_input"].fillna(0) + log["log_output"].fillna(0)
    log = log.groupby(["day", "provider", "model"], as_index=False)[["log_tokens", "log_cost_usd"]].sum()
    log = log.merge(covered, on=["day", "provider"])
    out = bill.merge(log, on=["day", "provider", "model"], how="outer")
    for col in ("bill_tokens", "log_tokens", "bill_cost_usd", "log_cost_usd"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["token_gap"] = out["bill_tokens"] - out["log_tokens"]
    out["cost_gap_usd"] = out["bill_cost_usd"] - out["log_cost_usd"]
    out["token_gap_pct"] = _pct(out["token_gap"], out["log_tokens"])
    out["cost_gap_pct"] = _pct(out["cost_gap_usd"], out["log_cost_usd"])
    one_sided = ((out["bill_tokens"] == 0) != (out["log_tokens"] == 0)) | (
        (out["bill_cost_usd"] == 0) != (out["log_cost_usd"] == 0)
    )
    beyond = (out["token_gap_pct"].abs() > threshold_pct) | (out["cost_gap_pct"].abs() > threshold_pct)
    out["flagged"] = beyond.fillna(False) | one_sided
    return out[list(COLUMNS)].sort_values(["day", "provider", "model"], ignore_index=True)


def by_model(recon: pd.DataFrame, threshold_pct: float) -> pd.DataFrame:
    """The period's totals per (provider, model), with the same gaps and flag."""
    if recon.empty:
        return pd.DataFrame(columns=[c for c in COLUMNS if c != "day"] + ["days", "flagged_days"])
    sums = recon.groupby(["provider", "model"], as_index=False).agg(
        bill_tokens=("bill_tokens", "sum"),
        log_tokens=("log_tokens", "sum"),
        bill_cost_usd=("bill_cost_usd", "sum"),
        log_cost_usd=("log_cost_usd", "sum"),
        days=("day", "nunique"),
        flagged_days=("flagged", "sum"),
    )
    sums["token_gap"] = sums["bill_tokens"] - sums["log_tokens"]
    sums["cost_gap_usd"] = sums["bill_cost_usd"] - sums["log_cost_usd"]
    sums["token_gap_pct"] = _pct(sums["token_gap"], sums["log_tokens"])
    sums["cost_gap_pct"] = _pct(sums["cost_gap_usd"], sums["log_cost_usd"])
    beyond = (sums["token_gap_pct"].abs() > threshold_pct) | (sums["cost_gap_pct"].abs() > threshold_pct)
    sums["flagged"] = beyond.fillna(True)
    return sums


def price_warnings(totals: pd.DataFrame, threshold_pct: float) -> dict[tuple[str, str], str]:
    """(provider, model) -> one sentence for the price table, for each flagged model."""
    out = {}
    for r in totals[totals["flagged"]].itertuples(index=False):
        where = f"over {r.days} billed day(s)"
        if r.log_tokens == 0:
            text = f"the bill charges ${r.bill_cost_usd:,.2f} for {r.bill_tokens:,.0f} tokens the log never saw ({where})"
        elif r.bill_tokens == 0:
            text = f"the log holds {r.log_tokens:,.0f} tokens (${r.log_cost_usd:,.2f}) the bill does not show ({where})"
        elif abs(r.token_gap_pct) <= threshold_pct:
            text = (
                f"billed ${r.bill_cost_usd:,.2f} against ${r.log_cost_usd:,.2f} from this table ({r.cost_gap_pct:+.1f}%) "
                f"on matching tokens ({r.token_gap_pct:+.1f}%) {where}: the bill's rate differs from this row"
            )
        else:
            text = (
                f"the bill counts {r.token_gap_pct:+.1f}% tokens and {r.cost_gap_pct:+.1f}% dollars against the log "
                f"{where}: usage is missing from one side"
            )
        out[(r.provider, r.model)] = text
    return out
