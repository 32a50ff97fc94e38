"""Helpers for driving routing policies through a whole demo Gateway: a fleet spread over
regions, keys in teams, and a wall clock the test sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway_fixtures import HAIKU, SONNET, demo_env, log_rows

from gateway_core import Gateway, GenerateRequest, Settings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
EU_HAIKU = f"eu.{HAIKU}"
# azure/gpt-4o-mini runs in Sweden (eu), azure/gpt-4o in the resource's region (us);
# bedrock's eu. profile runs in the EU, Sonnet in the client's region (us); the
# OpenAI-compatible endpoint says nothing about where it is (unknown).
FLEET = {
    "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini,gpt-4o",
    "AZURE_OPENAI_REGION": "eastus2",
    "AZURE_OPENAI_DEPLOYMENT_REGIONS": "gpt-4o-mini=swedencentral",
    "AWS_REGION": "us-east-1",
    "BEDROCK_MODEL_ID": f"{EU_HAIKU},{SONNET}",
    "OPENAI_API_KEY": "test-only-key",
    "OPENAI_MODEL": "gpt-4.1-mini",
}
EU = {("azure", "gpt-4o-mini"), ("bedrock", EU_HAIKU)}
ALL = EU | {("azure", "gpt-4o"), ("bedrock", SONNET), ("openai", "gpt-4.1-mini")}
MONDAY_10 = datetime(2025, 1, 6, 10, tzinfo=UTC).timestamp()
SATURDAY_23 = datetime(2025, 1, 11, 23, tzinfo=UTC).timestamp()
PROMPT = "Summarise the quarterly storage review in two sentences."


def policy_gateway(db: Path, policy, *, at: float = MONDAY_10, fleet: dict | None = None, **env) -> Gateway:
    """A demo gateway over ``fleet`` (default ``FLEET``) with ``policy`` (a path; None: none), at ``at``."""
    extra = {**(FLEET if fleet is None else fleet), **env}
    if policy is not None:
        extra["GATEWAY_POLICY_FILE"] = str(policy)
    return Gateway(Settings.from_mapping(demo_env(db, **extra)), wall_clock=lambda: at)


def keys(gw: Gateway, **teams: str) -> dict[str, str]:
    """One key per name, in the team given (``keys(gw, ana="legal")``); name -> the key itself."""
    return {name: gw.governance.create_key(name=name, team=team)[1] for name, team in teams.items()}


def request(prompt: str = PROMPT, **kw) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, max_tokens=kw.pop("max_tokens", 48), **kw)


def served(result) -> tuple[str, str]:
    return result.provider, result.model


def attempted(result_or_error) -> set[tuple[str, str]]:
    return {(a.provider, a.model) for a in result_or_error.attempts}


def rows(gw: Gateway, table: str = "usage_logs") -> list[dict]:
    gw.usage_log.flush()
    return log_rows(gw.usage_log.path, table=table)
