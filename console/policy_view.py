"""The routing policy as the console shows it: a line under each answer, the Policies page's
tables, and its dry run. No Streamlit here: the page lays out what these return.

The dry run starts from the ``input`` a real request would send (``Gateway.policy_input``),
which the operator may edit as JSON; it is evaluated without the decision cache, and the
route shown is what the decision leaves of the input's candidates (preferred first, the rest
in the order given: at request time the router ranks those by the request's priority).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from console import format as fmt
from gateway_core.governance.policy import dry_run
from gateway_core.governance.policy_cli import parse_input
from gateway_core.types import GenerateRequest

NO_KEY = "(no key: team default)"
SAMPLE_PROMPT = "Summarise the attached support ticket for the on-call engineer in three bullet points."


def answer_line(decision) -> str | None:
    """One Markdown line under an answer: the policy's version, its decision and what it did."""
    if decision is None:
        return None
    parts = [f"**Policy** `{decision.version or '-'}` · {decision.label}"]
    if decision.excluded:
        parts.append("excluded " + fmt.md_escape(", ".join(decision.excluded)))
    if decision.prefer:
        parts.append("preferred " + fmt.md_escape(", ".join(decision.prefer)))
    if decision.redact:
        parts.append("prompt masked before sending")
    if decision.matched:
        parts.append("rules " + fmt.md_escape(", ".join(decision.matched)))
    if decision.error:
        parts.append("evaluation failed: " + fmt.md_escape(decision.error))
    return " · ".join(parts)


def refusal_line(error) -> str:
    """A ``PolicyDenied`` as one sentence: the policy's reasons and which version said so."""
    version = f" (version `{error.policy_version}`)" if error.policy_version else ""
    return f"Refused by the routing policy{version}: {fmt.md_escape('; '.join(error.messages))}"


def describe(engine) -> dict:
    """Where the active policy comes from and how it fails, for the page's header."""
    stats = engine.stats()
    if "endpoint" in stats:  # an OPA server
        where = f"OPA at {stats['endpoint']}"
    else:
        where = engine.path
    return {
        "where": where,
        "version": engine.version,
        "fails": "open (requests go through, the error is logged)" if engine.fail_open else "closed (requests are refused)",
        "reads": list(getattr(engine, "input_fields", []) or ["everything (evaluated by the server)"]),
        "stats": stats,
    }


def sources_frame(engine) -> pd.DataFrame:
    """One row per policy file: its name and size; empty for a policy on an OPA server."""
    sources = getattr(engine, "sources", ())
    return pd.DataFrame(
        [{"file": s.name, "lines": s.text.count("\n") + 1, "characters": len(s.text)} for s in sources],
        columns=["file", "lines", "characters"],
    )


def cache_numbers(stats: dict) -> list[tuple[str, str]]:
    """(label, value) pairs for the cache or the server's call counts."""
    if "endpoint" in stats:
        return [("Calls", f"{stats['calls']:,}"), ("Errors", f"{stats['errors']:,}")]
    looked_up = stats["hits"] + stats["misses"]
    rate = fmt.pct(stats["hits"] / looked_up) if looked_up else fmt.DASH
    return [
        ("Cached decisions", f"{stats['cached']:,} of {stats['cache_size']:,}"),
        ("Hit rate", rate),
        ("Reloads", f"{stats['reloads']:,}"),
    ]


def reload(engine) -> tuple[bool, str, str]:
    """Look at the files now: (whether a new version is in force, the old version, the new one)."""
    before = engine.version
    changed = engine.reload_if_changed(force=True) if hasattr(engine, "reload_if_changed") else False
    return changed, before, engine.version


def sample_input(gw, *, key: str, prompt: str, task: str, priority: str, hint: str | None, weekday: str, hour: int) -> str:
    """The ``input`` a request with these fields would send, as indented JSON, at the weekday and hour given."""
    request = GenerateRequest(prompt=prompt or SAMPLE_PROMPT, task=task, priority=priority, provider_hint=hint)
    doc = gw.policy_input(request, key=None if key == NO_KEY else key)
    doc["time"] = {"hour_utc": int(hour), "weekday": weekday}
    return json.dumps(doc, indent=2)


def evaluate(engine, text: str) -> tuple[object, dict]:
    """The decision for the JSON ``text`` (``ValueError`` saying what is wrong with it) and its outcome."""
    doc = parse_input(text, "input")
    evaluate_once = getattr(engine, "evaluate", None) or engine.decide  # a dry run never fills the cache
    decision = evaluate_once(doc)
    return decision, dry_run(decision, doc.get("candidates", []))


def route_frame(outcome: dict, text: str) -> pd.DataFrame:
    """The route a dry run leaves, in order, with each candidate's region and prices."""
    facts = {f"{c['provider']}/{c['model']}": c for c in json.loads(text).get("candidates", [])}
    rows = []
    for i, label in enumerate(outcome.get("candidates", []), start=1):
        c = facts.get(label, {})
        rows.append(
            {
                "order": i,
                "candidate": label,
                "region": c.get("region"),
                "input per 1k": c.get("price_per_1k_input"),
                "output per 1k": c.get("price_per_1k_output"),
            }
        )
    return pd.DataFrame(rows, columns=["order", "candidate", "region", "input per 1k", "output per 1k"])


def now_utc() -> tuple[str, int]:
    """Today's weekday name and the hour, UTC: the dry run's default time."""
    now = datetime.now(UTC)
    return now.strftime("%A"), now.hour
