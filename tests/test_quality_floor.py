"""The quality floor end to end: votes recorded through the gateway move its next route."""

from __future__ import annotations

from gateway_core import Gateway
from gateway_core.types import GenerateRequest


def test_gateway_routes_around_a_model_people_keep_voting_down(tmp_path):
    env = {
        "GATEWAY_MODE": "demo",
        "GATEWAY_EMULATOR_PROFILE": "zero",
        "GATEWAY_DB_PATH": str(tmp_path / "log.sqlite"),
        "GATEWAY_QUALITY_FLOOR": "0.45",
        "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini",
        "BEDROCK_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
    }
    with Gateway.from_env(env, dotenv_path=None) as gw:
        request = GenerateRequest(prompt="Summarise: the quarterly numbers", priority="low_cost", task="summarise")
        assert gw.generate(request).model == "gpt-4o-mini"
        a, b = gw.compare(request)
        for i in range(30):  # the mini side loses every vote
            gw.record_vote(f"cmp_{i}", "summarise", a, b, "b" if a.model == "gpt-4o-mini" else "a")
        r = gw.generate(request)
        assert r.model == "anthropic.claude-3-haiku-20240307-v1:0"
        assert "quality floor 0.45 for summarise: skipped azure/gpt-4o-mini lower bound 0.00 over 30 votes" in r.route_reason
