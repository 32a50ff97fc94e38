"""B10: what telemetry adds to one request in process, on (exporting over OTLP/HTTP) and off.

One "request" is what the executor will do for a request that fell back: ``start_request``,
two attempts (each started, asked for its ``traceparent`` and ended with its ``Attempt``)
and ``end`` with the ``GenerateResult``. Three arms run in a shuffled order every round:
the same loop with no telemetry calls at all (the baseline), telemetry off (the no-op
object ``Telemetry.from_env`` returns with no ``OTEL_*`` set) and telemetry on, exporting
to a real OTLP/HTTP receiver in its own process on loopback, with the batch span processor and a one-second
metric export interval, so span building, exports and metric collection really happen
during the run on the same two cores. Each round ends with a short sleep, as a real
request waits on its provider, so the background work keeps up and every span is
exported (counted at the receiver). What matters is the added p50: on minus off, and off
minus baseline.

The request path only records; spans and points are built on a worker thread. That work
is not free, so a second phase measures it: process CPU time (all threads) for a burst of
requests with telemetry on, flushed to the receiver, against the same burst off. The
same questions are then asked of whole ``Gateway.generate`` calls (``b10_gateway``): on
against off, head sampling at 10%, and the off path's own calls against an empty call.
"""

from __future__ import annotations

import gc
import random
import time

from . import b10_gateway, common
from .b10_gateway import receiver_process, receiver_summary, run_gateway_phase
from .common import Config, Target, clock, summarize

ID = "B10"
NAME = "b10_telemetry"
TITLE = "Telemetry cost per request, on (OTLP/HTTP), head-sampled and off: the telemetry calls alone and Gateway.generate"

SIZES = {
    "smoke": {"rounds": 300, "warmup": 50, "burst": 50, "gw_rounds": 100},
    "quick": {"rounds": 5_000, "warmup": 500, "burst": 500, "gw_rounds": 3_000},
    "full": {"rounds": 30_000, "warmup": 2_000, "burst": 600, "gw_rounds": 20_000},
}
PACE_S = 0.0005  # between rounds: the provider wait during which background work runs
TARGET_ON_ADDED_P50_MS = 0.050
TARGET_OFF_ADDED_P50_MS = 0.005  # "nothing": a few method calls returning constants


def _arms(on, off):
    from tests.telemetry.telemetry_shapes import drive_fallback

    def baseline():
        return None

    return {"baseline": baseline, "off": lambda: drive_fallback(off), "on": lambda: drive_fallback(on)}


def _cpu_per_request_us(tel, burst: int) -> float:
    """Process CPU (every thread) per request for ``burst`` requests, built and exported."""
    from tests.telemetry.telemetry_shapes import drive_fallback

    gc.collect()
    t0 = time.process_time()
    for _ in range(burst):
        drive_fallback(tel)
    tel.force_flush(timeout_s=30)
    return (time.process_time() - t0) / burst * 1e6


def _run_arms(sizes: dict) -> tuple[dict, dict, dict]:
    """Per-request samples of each arm, CPU per request on and off, and what reached the receiver."""
    from gateway_core.telemetry import Telemetry

    proc, url = receiver_process()
    try:
        on = Telemetry.from_env(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_SERVICE_NAME": "bench", "OTEL_METRIC_EXPORT_INTERVAL": "1000"}
        )
        off = Telemetry.from_env({})
        try:
            samples = common.warm_shuffled_rounds_ms(_arms(on, off), sizes["rounds"], sizes["warmup"], random.Random(8), PACE_S)
            cpu = {"on": _cpu_per_request_us(on, sizes["burst"]), "off": _cpu_per_request_us(off, sizes["burst"])}
            dropped = on.dropped
        finally:
            on.shutdown(timeout_s=10)
        exports = {
            **receiver_summary(proc),
            "requests_dropped": dropped,
            "spans_expected": 3 * (sizes["rounds"] + sizes["warmup"] + sizes["burst"]),
        }
    finally:
        common.stop_process(proc)
    return samples, cpu, exports


def _gateway_metrics(cfg: Config, sizes: dict) -> tuple[dict, list[Target], str]:
    phase = run_gateway_phase(cfg, sizes)
    stats = {name: summarize(v) for name, v in phase["samples"].items()}
    cpu = phase["cpu"]
    on_added = stats["on"]["p50"] - stats["off"]["p50"]
    sampled_added = stats["sampled"]["p50"] - stats["off"]["p50"]
    off_added = stats["off_steps"]["p50"] - stats["empty"]["p50"]
    metrics = {
        "per_request_ms": stats,
        "on_added_p50_ms": on_added,
        "on_added_p99_ms": stats["on"]["p99"] - stats["off"]["p99"],
        "sampled_added_p50_ms": sampled_added,
        "off_steps_added_p50_ms": off_added,
        "cpu_per_request_us": {**cpu, "added_on": cpu["on"] - cpu["off"], "added_sampled": cpu["sampled"] - cpu["off"]},
        "exports": phase["exports"],
    }
    cfg.log(
        f"  Gateway.generate p50: off {stats['off']['p50'] * 1000:.1f} us, on {stats['on']['p50'] * 1000:.1f} us "
        f"({on_added * 1000:+.1f}), sampled 10% {stats['sampled']['p50'] * 1000:.1f} us ({sampled_added * 1000:+.1f}); "
        f"off-path calls {off_added * 1000:+.2f} us"
    )
    cfg.log(
        f"  Gateway.generate CPU per request: off {cpu['off']:.0f} us, on {cpu['on']:.0f} us, sampled {cpu['sampled']:.0f} us;"
        f" exported {phase['exports']}"
    )
    targets = [
        Target("Gateway.generate, telemetry on, added p50", on_added, TARGET_ON_ADDED_P50_MS, "ms"),
        Target("Gateway.generate, telemetry off: its calls, added p50", off_added, TARGET_OFF_ADDED_P50_MS, "ms"),
    ]
    headline = (
        f"through Gateway.generate telemetry on adds {on_added * 1000:.1f} us at p50 (sampled at 10%: "
        f"{sampled_added * 1000:.1f} us; off: {off_added * 1000:.2f} us); background CPU per request "
        f"{cpu['on'] - cpu['off']:.0f} us on, {cpu['sampled'] - cpu['off']:.0f} us sampled at 10%"
    )
    return metrics, targets, headline


def _library_metrics(cfg: Config, sizes: dict) -> tuple[dict, list[Target], str]:
    samples, cpu, exports = _run_arms(sizes)
    stats = {name: summarize(s) for name, s in samples.items()}
    on_added = stats["on"]["p50"] - stats["off"]["p50"]
    off_added = stats["off"]["p50"] - stats["baseline"]["p50"]
    metrics = {
        "per_request_ms": stats,
        "on_added_p50_ms": on_added,
        "on_added_p99_ms": stats["on"]["p99"] - stats["off"]["p99"],
        "off_added_p50_ms": off_added,
        "exports": exports,
        "cpu_per_request_us": {**cpu, "added": cpu["on"] - cpu["off"]},
    }
    cfg.log(
        f"  baseline p50 {stats['baseline']['p50'] * 1000:.2f} us | off p50 {stats['off']['p50'] * 1000:.2f} us"
        f" | on p50 {stats['on']['p50'] * 1000:.1f} us p99 {stats['on']['p99'] * 1000:.1f} us"
    )
    cfg.log(f"  added: on {on_added * 1000:+.1f} us, off {off_added * 1000:+.2f} us at p50; exported {exports}")
    cfg.log(f"  process CPU per request, background building and export included: on {cpu['on']:.0f} us, off {cpu['off']:.1f} us")
    targets = [
        Target("telemetry on, added p50", on_added, TARGET_ON_ADDED_P50_MS, "ms"),
        Target("telemetry off, added p50", off_added, TARGET_OFF_ADDED_P50_MS, "ms"),
    ]
    headline = (
        f"the telemetry calls alone: on adds {on_added * 1000:.1f} us per request at p50 on the request path (off adds "
        f"{off_added * 1000:.2f} us); {cpu['on'] - cpu['off']:.0f} us of CPU per request in the background"
    )
    return metrics, targets, headline


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t0 = clock()
    metrics, targets, headline = _library_metrics(cfg, sizes)
    metrics["gateway"], gw_targets, gw_headline = _gateway_metrics(cfg, sizes)
    targets += gw_targets
    common.report_targets(cfg, targets)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics=metrics,
        targets=targets,
        duration_s=clock() - t0,
        notes=[
            "one request = start_request + 2 x (attempt + inject_headers + end) + end; spans batched, metrics exported every 1 s",
            f"arms shuffled every round, {PACE_S * 1e3:g} ms sleep after each round; added = arm p50 minus the p50 "
            "of the arm below it",
            "cpu_per_request_us: process_time over a burst of requests then a flush; it includes the worker thread "
            "that builds spans and the exporters' threads, i.e. the full cost paid off the request path",
            "gateway: three Gateways over the same instant providers (no HTTP), differing only in OTEL_* (none / "
            "OTLP / OTLP with parentbased_traceidratio 0.1), one routed request each per round, shuffled, "
            f"{b10_gateway.PACE_S * 1e3:g} ms sleep after each round; off_steps = the calls pipeline.run makes "
            "when telemetry is off, against an empty call",
        ],
        headlines=[gw_headline, headline],
    )
