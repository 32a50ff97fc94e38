"""Traffic for the soaks: varied requests, half of them streamed, and each one's outcome.

``run_one`` sends request ``i`` and classifies what came back: answered, failed with the
error tree's ``AllProvidersFailed``, a stream interrupted after text, or anything else
(``unexpected``, which is what the soaks hunt for). Every outcome keeps its attempts, so a
test can compare the log with what was actually tried: ``check_log_matches_attempts``
requires one row per attempt, in order, with the attempt's status and only the last final.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass

from gateway_core import AllProvidersFailed, GenerateRequest, StreamInterrupted

TIMEOUT_S = 0.5
# Hangs cost a whole timeout (plus an SDK retry) each, so they are weighted down to keep the run short.
AZURE_MIX = [
    {"status": 429, "retry_after_s": 0.01},
    {"status": 503},
    {"hang_s": TIMEOUT_S + 0.3, "weight": 0.15},
    {"cut_stream_after": 0},
    {"cut_stream_after": 2},
]
BEDROCK_MIX = [{"status": 429, "retry_after_s": 0.01}, {"status": 503}, {"cut_stream_after": 0}, {"cut_stream_after": 2}]
HINTS = (None, "azure", None, "bedrock", "azure")
PRIORITIES = ("low_cost", "balanced", "low_latency")
TOPICS = ("routing rules", "the quarterly budget", "circuit breakers", "token pricing", "latency targets")


@dataclass(frozen=True)
class Outcome:
    index: int
    streamed: bool
    status: str  # ok | failed | interrupted | unexpected
    request_id: str | None
    attempts: tuple
    detail: str = ""


def request_for(i: int) -> GenerateRequest:
    return GenerateRequest(
        prompt=f"Request {i}: explain {TOPICS[i % len(TOPICS)]} in a few sentences.",
        task="chat",
        priority=PRIORITIES[i % len(PRIORITIES)],
        provider_hint=HINTS[i % len(HINTS)],
        user=f"soak-{i % 7}",
    )


def run_one(gw, i: int) -> Outcome:
    streamed = i % 2 == 1
    req = request_for(i)
    try:
        if streamed:
            stream = gw.stream(req)
            text = "".join(stream)
            r = stream.result
            if text != r.text:
                return Outcome(i, streamed, "unexpected", r.request_id, r.attempts, "streamed text != result text")
        else:
            r = gw.generate(req)
        detail = "" if r.text.strip() else "empty answer"
        return Outcome(i, streamed, "ok" if not detail else "unexpected", r.request_id, r.attempts, detail)
    except StreamInterrupted as e:
        return Outcome(i, streamed, "interrupted", e.request_id, tuple(e.attempts), e.partial_text)
    except AllProvidersFailed as e:
        return Outcome(i, streamed, "failed", e.request_id, tuple(e.attempts))
    except Exception as e:  # noqa: BLE001 - anything else is exactly what this test hunts for
        return Outcome(
            i,
            streamed,
            "unexpected",
            getattr(e, "request_id", None),
            tuple(getattr(e, "attempts", ()) or ()),
            f"{type(e).__name__}: {e}",
        )


def read_rows(db) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [
            dict(r)
            for r in con.execute("SELECT request_id, attempt, final, provider, status, error_type FROM usage_logs ORDER BY id")
        ]
    finally:
        con.close()


def check_log_matches_attempts(outcomes: list[Outcome], rows: list[dict]) -> None:
    expected = sum(len(o.attempts) for o in outcomes)
    keys = Counter((r["request_id"], r["attempt"]) for r in rows)
    doubled = [k for k, n in keys.items() if n > 1]
    assert not doubled, f"{len(doubled)} attempts logged twice, e.g. {doubled[:3]}"
    assert len(rows) == expected, f"{len(rows)} log rows for {expected} attempts"

    by_request: dict[str, list[dict]] = {}
    for r in rows:
        by_request.setdefault(r["request_id"], []).append(r)
    for o in outcomes:
        got = sorted(by_request.get(o.request_id, []), key=lambda r: r["attempt"])
        assert [r["attempt"] for r in got] == list(range(1, len(o.attempts) + 1)), (o, got)
        assert [r["status"] for r in got] == [a.status for a in o.attempts], (o, got)
        assert [r["final"] for r in got] == [0] * (len(got) - 1) + [1], (o, got)
        if o.status == "interrupted":
            assert got[-1]["status"] == "error" and got[-1]["error_type"] == "stream_interrupted", got
            assert all(r["status"] != "ok" for r in got), "an interrupted stream was logged as a success"
