"""B2: ``Gateway.compare`` runs both providers concurrently, so it should cost the slower one.

With the ``demo`` latency profile (realistic time to first token and tokens per second,
different per provider), each round times one ``compare`` and the two single pinned calls
it is made of, in an order that rotates every round. The ratio per round is
compare / max(single azure, single bedrock); 1.0 means perfectly parallel, 2.0 serial.
"""

from __future__ import annotations

import statistics

from . import common
from .common import Config, Target, clock, summarize

ID = "B2"
NAME = "b2_compare"
TITLE = "Gateway.compare wall time against the slower of the two single calls (demo latency)"

SIZES = {
    "smoke": {"rounds": 1, "max_tokens": 8},
    "quick": {"rounds": 5, "max_tokens": 32},
    "full": {"rounds": 30, "max_tokens": 64},
}
TARGET_RATIO = 1.10
PROMPT = "Explain in two sentences why a cost-aware router compares providers on the same prompt."


def run(cfg: Config) -> dict:
    from gateway_core import Gateway, GenerateRequest

    sizes = cfg.sizes(SIZES)
    t_start = clock()
    gw = Gateway.from_env(common.demo_env(cfg.work_dir / "b2.sqlite", "demo"), dotenv_path=None)
    base = GenerateRequest(prompt=PROMPT, task="chat", max_tokens=sizes["max_tokens"])
    pinned = {
        "azure": GenerateRequest(
            prompt=PROMPT, task="chat", max_tokens=sizes["max_tokens"], provider_hint="azure", fallback=False
        ),
        "bedrock": GenerateRequest(
            prompt=PROMPT, task="chat", max_tokens=sizes["max_tokens"], provider_hint="bedrock", fallback=False
        ),
    }
    steps = {
        "compare": lambda: gw.compare(base, providers=("azure", "bedrock")),
        "azure": lambda: gw.generate(pinned["azure"]),
        "bedrock": lambda: gw.generate(pinned["bedrock"]),
    }
    order = list(steps)
    samples = {k: [] for k in steps}
    ratios, errors = [], 0
    try:
        for fn in steps.values():  # warm connections, encodings and the emulators' pacers
            fn()
        for i in range(sizes["rounds"]):
            for name in order[i % 3 :] + order[: i % 3]:
                t0 = clock()
                out = steps[name]()
                samples[name].append((clock() - t0) * 1000)
                if name == "compare":
                    errors += sum(1 for r in out if isinstance(r, Exception))
            slower = max(samples["azure"][-1], samples["bedrock"][-1])
            ratios.append(samples["compare"][-1] / slower)
    finally:
        gw.close()
    metrics = {k: summarize(v) for k, v in samples.items()}
    metrics["ratio_per_round"] = summarize(ratios)
    metrics["compare_errors"] = errors
    median_ratio = statistics.median(ratios)
    slower_p50 = max(metrics["azure"]["p50"], metrics["bedrock"]["p50"])
    cfg.log(
        f"  compare p50 {metrics['compare']['p50']:.0f} ms | azure p50 {metrics['azure']['p50']:.0f} ms | "
        f"bedrock p50 {metrics['bedrock']['p50']:.0f} ms | ratio per round median {median_ratio:.3f} "
        f"(of medians {metrics['compare']['p50'] / slower_p50:.3f})"
    )
    targets = [Target("compare / slower single call (median of rounds)", median_ratio, TARGET_RATIO, "x")]
    if errors:
        targets.append(Target("compare sides that failed", errors, 0, "results"))
    common.report_targets(cfg, targets)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes={**sizes, "profile": "demo"},
        metrics=metrics,
        targets=targets,
        notes=[
            "each round times compare and both single calls; the order rotates every round",
            "demo profile latencies are log-normal with a seeded RNG, so single calls vary round to round",
        ],
        duration_s=clock() - t_start,
        headlines=[
            f"compare p50 {metrics['compare']['p50']:.0f} ms vs slower single call p50 {slower_p50:.0f} ms; "
            f"median per-round ratio {median_ratio:.3f}"
        ],
    )
