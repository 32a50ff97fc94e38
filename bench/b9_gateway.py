"""B9's second half: what the routing policy adds to a whole ``Gateway.generate``.

Two gateways share one set of instant providers (B1's, so no HTTP is timed) and differ only
in ``GATEWAY_POLICY_FILE``: unset (none) or the four example policies of ``policies/``
(policy). Each sends as a key in a team, so authentication and the allow-lists run in both
and the policy sees a principal. The prompt is B1's (about 400 characters), so the policy's
PII kinds are looked for on every request, since one example reads ``input.request.pii``;
after the first request every decision comes from the cache, as it will for a steady
stream of like requests. The two ``generate`` calls run in a shuffled order every round,
with a pause after each round for the usage log's writer, as a real request waits on its
provider.
"""

from __future__ import annotations

import gc
import random

from . import common

PACE_S = 0.001
TEAM = "marketing"  # listed by the allow-list example, so its rule is evaluated, and it allows both models


def _gateways(work_dir) -> dict:
    from bench.b1_overhead import InstantProvider
    from gateway_core import Gateway, Settings

    providers = {"azure": InstantProvider("azure"), "bedrock": InstantProvider("bedrock")}
    envs = {"none": {}, "policy": {"GATEWAY_POLICY_FILE": str(common.ROOT / "policies")}}
    out = {}
    for name, env in envs.items():
        gw = Gateway(Settings.from_mapping(common.demo_env(work_dir / f"b9-{name}.sqlite", **env)), providers=providers)
        gw.governance.create_key(name="bench", team=TEAM)
        out[name] = gw
    return out


def _request():
    from bench.b1_overhead import PROMPT
    from gateway_core import GenerateRequest

    return GenerateRequest(prompt=PROMPT, task="chat", priority="balanced", max_tokens=64)


def _measure(arms: dict, rounds: int, warmup: int) -> dict[str, list[float]]:
    names = list(arms)
    for _ in range(warmup):
        for name in names:
            arms[name]()
    gc.collect()
    return common.shuffled_rounds_us(arms, names, rounds, random.Random(9), PACE_S)


def run_gateway_phase(cfg, sizes: dict) -> dict:
    """Per-request samples (microseconds) of each gateway, the policy's cache after the run,
    and what the policy gateway logged as its decision."""
    gateways = _gateways(cfg.work_dir)
    try:
        request = _request()
        arms = {name: (lambda gw=gw: gw.generate(request, key="bench")) for name, gw in gateways.items()}
        first = arms["policy"]()
        assert first.policy is not None and first.policy.allowed, first.route_reason
        samples = _measure(arms, sizes["gw_rounds"], sizes["warmup"])
        policy = gateways["policy"].policy
        return {
            "samples": samples,
            "cache": common.policy_stats(policy),
            "decision": first.policy.to_dict(),
            "version": policy.version,
        }
    finally:
        for gw in gateways.values():
            gw.close()
