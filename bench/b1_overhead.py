"""B1: what ``Gateway.generate`` adds to a provider call, per provider.

End to end, each provider is called through the gateway (pinned with ``provider_hint`` and
``fallback=False`` so both sides do the same HTTP work) and directly through an SDK client
built by the same factory, against the same zero-latency emulator. Each round calls every
arm once in a shuffled order, so drift on a shared machine, and the usage-log writer's work
between calls, land on every arm alike. With ``--peers`` and LiteLLM installed, its
``completion()`` is one more arm on the same Azure emulator. A second, in-process measurement swaps the providers for an instant
fake that implements the ``Provider`` protocol: with no HTTP at all, what remains is the
gateway's own bookkeeping (validation, plan, token and cost estimates, ranking, the
usage-log row and its enqueue).
"""

from __future__ import annotations

import gc
import random
from pathlib import Path

from . import common, peers
from .common import Config, Target, clock, summarize

ID = "B1"
NAME = "b1_overhead"
TITLE = "Gateway.generate overhead against a direct SDK call (zero-latency emulators)"

SIZES = {
    "smoke": {"calls": 20, "warmup": 5, "inproc_calls": 200},
    "quick": {"calls": 400, "warmup": 40, "inproc_calls": 3000},
    "full": {"calls": 2500, "warmup": 200, "inproc_calls": 30000},
}
TARGET_ADDED_P50_MS = 0.3
TARGET_ADDED_P99_MS = 1.0
MAX_TOKENS = 64
PROMPT = (
    "Our quarterly infrastructure review found that storage costs grew 18% while request volume "
    "grew 9%. Most of the growth came from log retention in two regions and from snapshots that "
    "were never expired. Suggest three concrete actions to bring storage growth back in line with "
    "traffic, and say which one to do first and why."
)


class InstantProvider:
    """A provider that answers at once: isolates the gateway's own work from any I/O."""

    supports_streaming = True

    def __init__(self, name: str):
        from gateway_core.providers import PROVIDERS

        self.name = name
        # Keep the replaced provider's bookkeeping (token calibration) so the measure is like for like.
        self.calibrate_input_tokens = PROVIDERS[name].calibrate_input_tokens

    def _completion(self, call):
        from gateway_core.providers.base import Completion
        from gateway_core.types import Usage

        return Completion(
            text="Expire old snapshots first.", model=call.model, usage=Usage(96, 7), finish_reason="stop", request_id="fake-1"
        )

    def complete(self, call):
        return self._completion(call)

    def stream(self, call):
        yield "Expire old snapshots first."
        yield self._completion(call)

    def close(self) -> None:
        pass


NULL_WORK_ITEMS = 5000


def _null_work() -> int:
    """A fixed pure-Python loop timed beside each call: its spread is the machine's noise floor."""
    return sum(range(NULL_WORK_ITEMS))


def _request(provider: str, model: str):
    from gateway_core import GenerateRequest

    return GenerateRequest(prompt=PROMPT, task="chat", provider_hint=provider, fallback=False, model=model, max_tokens=MAX_TOKENS)


def _direct_callers(gw) -> dict:
    """One plain SDK call per provider, with clients from the gateway's own factories."""
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

    def call_azure():
        r = azure.chat.completions.create(model=common.AZURE_DEPLOYMENT, messages=azure_messages, max_tokens=MAX_TOKENS)
        return r.choices[0].message.content, r.usage.completion_tokens

    def call_bedrock():
        r = bedrock.converse(**bedrock_kwargs)
        return r["output"]["message"]["content"][0]["text"], r["usage"]["outputTokens"]

    return {"azure": (call_azure, azure), "bedrock": (call_bedrock, bedrock)}


def _shuffled(arms: dict, rounds: int, warmup: int, seed: int = 19) -> dict[str, list[float]]:
    """Each round calls every arm once, in a fresh random order. A fixed order would hand the
    usage-log writer's work (it runs between calls) to whichever arm comes next."""
    for _ in range(warmup):
        for fn in arms.values():
            fn()
    rng = random.Random(seed)
    names = list(arms)
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            t0 = clock()
            arms[name]()
            samples[name].append((clock() - t0) * 1000.0)
    return samples


def _arms(cfg: Config, gw) -> tuple[dict, list]:
    """name -> call, every call returning (text, output tokens); and the clients to close."""
    callers = _direct_callers(gw)
    arms, clients = {}, []
    for provider, model in (("azure", common.AZURE_DEPLOYMENT), ("bedrock", common.HAIKU)):
        direct_call, client = callers[provider]

        def gw_call(provider=provider, model=model):
            r = gw.generate(_request(provider, model))
            return r.text, r.usage.output_tokens

        arms[f"gateway {provider}"], arms[f"direct {provider}"] = gw_call, direct_call
        clients.append(client)
    if cfg.peers and peers.available():
        messages = [{"role": "user", "content": PROMPT}]
        version = gw.runtime.providers["azure"].client._api_version
        arms["litellm azure"] = peers.sdk_caller(gw.emulators.azure.url, common.AZURE_DEPLOYMENT, version, messages, MAX_TOKENS)
    for name, fn in arms.items():
        kind, provider = name.split()
        text, tokens = fn()
        if kind == "gateway":  # the same request both ways, or the comparison is meaningless
            assert tokens == arms[f"direct {provider}"]()[1], f"{name}: answer differs from the direct call"
        # A peer words its request its own way, so the emulator's answer differs; it must still answer.
        assert text and 0 < tokens <= MAX_TOKENS, f"{name}: no answer"
    return arms, clients


def _added(samples: dict, arm: str, provider: str) -> dict:
    g, d = summarize(samples[arm]), summarize(samples[f"direct {provider}"])
    return {
        "gateway_ms": g,
        "direct_ms": d,
        "added_p50_ms": g["p50"] - d["p50"],
        "added_p99_ms": g["p99"] - d["p99"],
        "ratio_p50": common.ratio(g["p50"], d["p50"]),
    }


def _end_to_end(cfg: Config, sizes: dict, db: Path) -> dict:
    from gateway_core import Gateway

    gw = Gateway.from_env(common.demo_env(db, "zero"), dotenv_path=None)
    out = {}
    try:
        arms, clients = _arms(cfg, gw)
        samples = _shuffled(arms, sizes["calls"], sizes["warmup"])
        for name in arms:
            kind, provider = name.split()
            if kind == "direct":
                continue
            key = provider if kind == "gateway" else f"{kind}_{provider}"
            out[key] = _added(samples, name, provider)
            cfg.log(
                f"  {name:16} p50 {out[key]['gateway_ms']['p50']:.3f} p99 {out[key]['gateway_ms']['p99']:.3f} ms | direct p50 "
                f"{out[key]['direct_ms']['p50']:.3f} p99 {out[key]['direct_ms']['p99']:.3f} ms | added p50 "
                f"{out[key]['added_p50_ms']:+.3f} p99 {out[key]['added_p99_ms']:+.3f} ms | ratio {out[key]['ratio_p50']}"
            )
        for client in clients:
            client.close()
        gw.usage_log.flush()
        out["rows_logged"] = _count_rows(db)
    finally:
        gw.close()
    return out


def _count_rows(db: Path) -> int:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM usage_logs").fetchone()[0]
    finally:
        con.close()


def _components(gw, req, n: int) -> dict:
    """Where the in-process time goes, from the planner's and row builder's own entry points."""
    from gateway_core.planning import build_plan, rank_plan
    from gateway_core.types import GenerateRequest

    rt = gw.runtime
    kwargs = dict(prompt=PROMPT, task="chat", priority="balanced", max_tokens=MAX_TOKENS)
    messages = build_plan(rt, req, streaming=False).messages
    parts = {
        "validate_request": lambda: GenerateRequest(**kwargs),
        # Planning and ranking together, as one step was measured before they were split.
        "build_plan": lambda: rank_plan(rt, build_plan(rt, req, streaming=False)),
        "token_estimate_one": lambda: gw.tokens.estimate_messages(common.AZURE_DEPLOYMENT, messages),
    }
    out = {}
    for name, fn in parts.items():
        for _ in range(50):
            fn()
        samples = []
        for _ in range(n):
            t0 = clock()
            fn()
            samples.append((clock() - t0) * 1000.0)
        out[name] = summarize(samples)
    return out


def _in_process(cfg: Config, sizes: dict, db: Path) -> dict:
    from gateway_core import Gateway, GenerateRequest, Settings

    settings = Settings.from_mapping(common.demo_env(db, "zero"))
    gw = Gateway(settings, providers={"azure": InstantProvider("azure"), "bedrock": InstantProvider("bedrock")})
    out = {}
    try:
        routed = dict(prompt=PROMPT, task="chat", priority="balanced", max_tokens=MAX_TOKENS)
        cases = {
            "pinned_azure": lambda: gw.generate(_request("azure", common.AZURE_DEPLOYMENT)),
            "pinned_bedrock": lambda: gw.generate(_request("bedrock", common.HAIKU)),
            "routed_balanced": lambda: gw.generate(GenerateRequest(**routed)),
        }
        n = sizes["inproc_calls"]
        for name, fn in cases.items():
            for _ in range(200):
                fn()
            gc.collect()
            samples, floor = [], []
            for _ in range(n):
                t0 = clock()
                fn()
                t1 = clock()
                _null_work()
                t2 = clock()
                samples.append((t1 - t0) * 1000.0)
                floor.append((t2 - t1) * 1000.0)
            out[name] = summarize(samples)
            out[f"{name}_noise_floor"] = summarize(floor)
            cfg.log(
                f"  in-process {name:16} p50 {out[name]['p50'] * 1000:.0f} us  p99 {out[name]['p99'] * 1000:.0f} us"
                f"  (fixed {NULL_WORK_ITEMS}-step loop beside it: p50 {out[f'{name}_noise_floor']['p50'] * 1000:.0f} us"
                f" p99 {out[f'{name}_noise_floor']['p99'] * 1000:.0f} us)"
            )
        out["components_ms"] = _components(gw, GenerateRequest(**routed), max(100, n // 5))
        for name, s in out["components_ms"].items():
            cfg.log(f"    component {name:16} p50 {s['p50'] * 1000:.0f} us")
        miss = out["routed_balanced"]["p50"] > TARGET_ADDED_P50_MS or out["routed_balanced"]["p99"] > TARGET_ADDED_P99_MS
        if cfg.profile or (miss and cfg.mode == "full"):
            text = common.profile_text(cases["routed_balanced"], repeat=min(n, 2000))
            out["profile_file"] = common.save_profile(cfg, NAME, text)
        gw.usage_log.flush()
    finally:
        gw.close()
    return out


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t0 = clock()
    e2e = _end_to_end(cfg, sizes, cfg.work_dir / "b1_e2e.sqlite")
    inproc = _in_process(cfg, sizes, cfg.work_dir / "b1_inproc.sqlite")
    targets = []
    for provider in ("azure", "bedrock"):
        targets.append(Target(f"{provider} added p50", e2e[provider]["added_p50_ms"], TARGET_ADDED_P50_MS, "ms"))
        targets.append(Target(f"{provider} added p99", e2e[provider]["added_p99_ms"], TARGET_ADDED_P99_MS, "ms"))
    routed = inproc["routed_balanced"]
    targets.append(Target("in-process bookkeeping p50", routed["p50"], TARGET_ADDED_P50_MS, "ms"))
    targets.append(Target("in-process bookkeeping p99", routed["p99"], TARGET_ADDED_P99_MS, "ms"))
    common.report_targets(cfg, targets)
    expected_rows = 2 * (sizes["calls"] + sizes["warmup"] + 1)
    notes = [
        "added = arm percentile minus the direct SDK call's percentile; every round calls every arm once, shuffled",
        "*_noise_floor: a fixed pure-Python loop timed right after each in-process call; when its p99 is many "
        "times its p50, p99s here measure the shared machine's scheduling, not the gateway",
        f"usage-log rows from the end-to-end run: {e2e['rows_logged']} (expected {expected_rows})",
    ]
    if cfg.peers and "litellm_azure" not in e2e:
        notes.append("--peers asked for, but litellm is not installed (pip install -e '.[peers]')")
    elif "litellm_azure" in e2e:
        notes.append(f"litellm {peers.version()} completion() measured in the same rounds")
    if not cfg.mode == "smoke" and not common.machine_facts()["tiktoken_offline_cache"]:
        notes.append("TIKTOKEN_CACHE_DIR unset: token estimates may have used the heuristic fallback")
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes={**sizes, "max_tokens": MAX_TOKENS, "prompt_chars": len(PROMPT)},
        metrics={"end_to_end": e2e, "in_process": inproc},
        targets=targets,
        notes=notes,
        duration_s=clock() - t0,
        headlines=[
            f"{p}: gateway p50 {e2e[p]['gateway_ms']['p50']:.2f} ms vs direct SDK {e2e[p]['direct_ms']['p50']:.2f} ms "
            f"(+{e2e[p]['added_p50_ms']:.3f} ms, x{e2e[p]['ratio_p50']})"
            for p in ("azure", "bedrock")
        ]
        + [
            f"litellm azure: p50 {e2e['litellm_azure']['gateway_ms']['p50']:.2f} ms "
            f"(+{e2e['litellm_azure']['added_p50_ms']:.3f} ms, x{e2e['litellm_azure']['ratio_p50']})"
            for _ in ("litellm_azure",)
            if "litellm_azure" in e2e
        ]
        + [f"in-process bookkeeping p50 {routed['p50'] * 1000:.0f} us, p99 {routed['p99'] * 1000:.0f} us"],
    )
