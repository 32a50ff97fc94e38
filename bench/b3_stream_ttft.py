"""B3: time to first token through ``Gateway.stream`` against a direct SDK stream.

Both emulators are set to a fixed, jitter-free latency (time to first token only, no
per-token delay) so the difference is what the gateway adds before and around the first
chunk: planning, the adapter's stream set-up, chunk handling. Calls alternate
gateway/direct with the order flipping each pair; each stream is drained to the end so
its connection is reusable, but only the first text chunk is timed.
"""

from __future__ import annotations

import gc

from . import common
from .b1_overhead import _request
from .common import Config, Target, clock, summarize

ID = "B3"
NAME = "b3_stream_ttft"
TITLE = "Streaming TTFT through Gateway.stream against a direct SDK stream (fixed latency)"

SIZES = {
    "smoke": {"pairs": 5, "warmup": 2, "ttft_ms": 20.0},
    "quick": {"pairs": 80, "warmup": 8, "ttft_ms": 20.0},
    "full": {"pairs": 1000, "warmup": 30, "ttft_ms": 20.0},
}
TARGET_ADDED_MS = 2.0
MAX_TOKENS = 64


def _direct_streams(gw):
    """First-chunk timers for a plain SDK stream per provider, with clients from the gateway's factories."""
    from gateway_core.providers import AzureOpenAIProvider, BedrockProvider
    from gateway_core.providers import bedrock as bedrock_wire
    from gateway_core.providers.base import ProviderCall
    from gateway_core.tasks import build_messages

    s = gw.settings
    azure = AzureOpenAIProvider.from_settings(s, endpoint=gw.emulators.azure.url, api_key="emulated-key").client
    bedrock = BedrockProvider.from_settings(
        s, endpoint_url=gw.emulators.bedrock.url, aws_access_key_id="emulated-key", aws_secret_access_key="emulated-key"
    ).client
    messages = build_messages(_request("azure", common.AZURE_DEPLOYMENT))
    azure_messages = [{"role": m.role, "content": m.content} for m in messages]
    bedrock_kwargs = bedrock_wire.to_wire(ProviderCall(common.HAIKU, messages, MAX_TOKENS))

    def azure_ttft() -> float:
        t0 = clock()
        ttft = None
        stream = azure.chat.completions.create(
            model=common.AZURE_DEPLOYMENT,
            messages=azure_messages,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if ttft is None and chunk.choices and chunk.choices[0].delta.content:
                ttft = (clock() - t0) * 1000
        return ttft

    def bedrock_ttft() -> float:
        t0 = clock()
        ttft = None
        for event in bedrock.converse_stream(**bedrock_kwargs)["stream"]:
            if ttft is None and event.get("contentBlockDelta", {}).get("delta", {}).get("text"):
                ttft = (clock() - t0) * 1000
        return ttft

    return {"azure": (azure_ttft, azure), "bedrock": (bedrock_ttft, bedrock)}


def _gateway_ttft(gw, provider: str, model: str):
    def ttft() -> float:
        t0 = clock()
        first = None
        stream = gw.stream(_request(provider, model))
        for chunk in stream:
            if first is None and chunk:
                first = (clock() - t0) * 1000
        return first

    return ttft


def run(cfg: Config) -> dict:
    from gateway_core import Gateway
    from gateway_core.emulators import Timing

    sizes = cfg.sizes(SIZES)
    t_start = clock()
    gw = Gateway.from_env(common.demo_env(cfg.work_dir / "b3.sqlite", "zero"), dotenv_path=None)
    fixed = Timing(ttft_ms=sizes["ttft_ms"], tokens_per_s=0.0, jitter=0.0)
    metrics, targets = {}, []
    try:
        gw.emulators.azure.set_profile(fixed)
        gw.emulators.bedrock.set_profile(fixed)
        direct = _direct_streams(gw)
        for provider, model in (("azure", common.AZURE_DEPLOYMENT), ("bedrock", common.HAIKU)):
            direct_fn, client = direct[provider]
            gw_fn = _gateway_ttft(gw, provider, model)
            for _ in range(sizes["warmup"]):
                gw_fn()
                direct_fn()
            gc.collect()
            g, d = [], []
            for i in range(sizes["pairs"]):
                pair = ((gw_fn, g), (direct_fn, d))
                for fn, out in pair if i % 2 == 0 else pair[::-1]:
                    out.append(fn())
            gs, ds = summarize(g), summarize(d)
            metrics[provider] = {
                "gateway_ttft_ms": gs,
                "direct_ttft_ms": ds,
                "paired_diff_ms": summarize([a - b for a, b in zip(g, d)]),
                "added_p50_ms": gs["p50"] - ds["p50"],
                "added_p99_ms": gs["p99"] - ds["p99"],
                "ratio_p50": common.ratio(gs["p50"], ds["p50"]),
            }
            cfg.log(
                f"  {provider:8} TTFT gateway p50 {gs['p50']:.2f} ms | direct p50 {ds['p50']:.2f} ms | added p50 "
                f"{metrics[provider]['added_p50_ms']:+.2f} ms p99 {metrics[provider]['added_p99_ms']:+.2f} ms"
            )
            targets.append(Target(f"{provider} added TTFT p50", metrics[provider]["added_p50_ms"], TARGET_ADDED_MS, "ms"))
            client.close()
    finally:
        gw.close()
    common.report_targets(cfg, targets)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes={**sizes, "max_tokens": MAX_TOKENS, "profile": "fixed ttft, no per-token delay, no jitter"},
        metrics=metrics,
        targets=targets,
        notes=["emulator TTFT is the profile's value times a per-model factor (mini 0.8, haiku 0.75)"],
        duration_s=clock() - t_start,
        headlines=[
            f"{p}: TTFT p50 {m['gateway_ttft_ms']['p50']:.2f} ms via gateway vs {m['direct_ttft_ms']['p50']:.2f} ms "
            f"direct ({m['added_p50_ms']:+.2f} ms)"
            for p, m in metrics.items()
        ],
    )
