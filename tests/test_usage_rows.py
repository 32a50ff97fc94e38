"""Usage-log rows are built from a plan and its attempts alone: numbered, one final, content only when asked."""

from __future__ import annotations

from decimal import Decimal

from gateway_core.planning import Estimate, Plan
from gateway_core.pricing import PriceTable
from gateway_core.router import Candidate, Ranking
from gateway_core.tasks import build_messages
from gateway_core.types import Attempt, GenerateRequest, GenerateResult, Usage
from gateway_core.usage.rows import rejected_row, request_rows

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PRICES = PriceTable.load()


def _plan(prompt="Mail jane.doe@example.com about it") -> Plan:
    req = GenerateRequest(prompt=prompt, user="ana")
    estimates = {
        ("azure", "prod-mini"): Estimate("azure", "prod-mini", "gpt-4o-mini", 40, 40, 100, "tiktoken", Decimal("0.0001")),
        ("bedrock", HAIKU): Estimate("bedrock", HAIKU, HAIKU, 46, 40, 100, "calibrated", Decimal("0.0002")),
    }
    cands = tuple(Candidate(e.provider, e.model, e.input_tokens, e.output_tokens, e.cost_usd) for e in estimates.values())
    return Plan(req, build_messages(req), 512, estimates, cands, False, Ranking(cands, "low_cost: test"))


def _failed(provider, model) -> Attempt:
    return Attempt(provider, model, "error", 12.0, error_type="rate_limited", error_message="429", retryable=True)


def _result(plan, attempts) -> GenerateResult:
    usage = Usage(42, 7)
    ok = Attempt("bedrock", HAIKU, "ok", 30.0, usage=usage, cost_usd=Decimal("0.00002"))
    return GenerateResult(
        "Done: mail jane.doe@example.com",
        "bedrock",
        HAIKU,
        usage,
        ok.cost_usd,
        Decimal("0.0002"),
        Decimal("0.00001"),
        45.0,
        45.0,
        (*attempts, ok),
        True,
        "req_1",
        "low_cost: test",
        counterfactual_provider="azure",
        counterfactual_model="prod-mini",
    )


def test_a_fallback_gives_numbered_rows_and_only_the_last_is_final():
    plan = _plan()
    failed = _failed("azure", "prod-mini")
    result = _result(plan, (failed,))
    rows = request_rows(plan, "req_1", result.attempts, result, PRICES, store_content=False)
    assert [(r["attempt"], r["final"], r["provider"], r["status"]) for r in rows] == [
        (1, 0, "azure", "error"),
        (2, 1, "bedrock", "ok"),
    ]
    assert rows[0]["counterfactual_provider"] == "bedrock"  # costed from the plan for the failed attempt
    assert rows[1]["counterfactual_model"] == "prod-mini"  # taken from the result for the answer
    assert rows[1]["cost_usd"] == Decimal("0.00002") and rows[1]["unpriced"] == 0
    assert all("prompt_text" not in r for r in rows)


def test_a_request_that_never_answered_still_marks_its_last_attempt_final():
    plan = _plan()
    rows = request_rows(plan, "req_2", [_failed("azure", "prod-mini"), _failed("bedrock", HAIKU)], None, PRICES, False)
    assert [r["final"] for r in rows] == [0, 1]
    assert request_rows(plan, "req_3", [], None, PRICES, False) == []


def test_stored_content_is_masked_and_only_the_answer_carries_the_response():
    plan = _plan()
    failed = _failed("azure", "prod-mini")
    result = _result(plan, (failed,))
    rows = request_rows(plan, "req_1", result.attempts, result, PRICES, store_content=True)
    assert all(r["prompt_text"] == "Mail [email] about it" for r in rows)
    assert "response_text" not in rows[0] and rows[1]["response_text"] == "Done: mail [email]"


def test_a_rejected_row_names_the_field_and_source_and_drops_an_implausible_user():
    row = rejected_row("req_9", "max_tokens", "validation_error", source="api", user="x" * 500, key_id="abcde23456")
    assert row == {
        "request_id": "req_9",
        "source": "api",
        "field": "max_tokens",
        "error_type": "validation_error",
        "user": None,
        "team": None,
        "key_id": "abcde23456",
    }
