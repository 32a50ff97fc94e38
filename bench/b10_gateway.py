"""B10's second half: what telemetry adds to a whole ``Gateway.generate``, on, off and head-sampled.

Three gateways share one set of instant providers (B1's, so no HTTP is timed) and differ
only in their ``OTEL_*`` variables: none (off), exporting to a real OTLP/HTTP receiver in
its own process (on), and the same with ``parentbased_traceidratio`` at 10% (sampled).
Their ``generate`` calls run in a shuffled order every round, with a pause after each round
for the background worker, as a real request waits on its provider. What telemetry off
costs is measured apart, on the exact calls the pipeline makes when it is off, against an
empty call. A burst per gateway then gives process CPU per request, background span
building and export included, which is what sampling saves.
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import time

from . import common

PACE_S = 0.001  # between rounds: the provider wait during which background work runs
SAMPLE_RATIO = "0.1"
SERVICES = {"on": "bench-gateway-on", "sampled": "bench-gateway-sampled"}


def receiver_process():
    """The OTLP receiver in its own process (its decoding costs the measured process nothing) and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.telemetry.otlp_receiver"],
        cwd=common.ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def receiver_summary(proc) -> dict:
    out, _ = proc.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def _gateways(work_dir, url: str) -> dict:
    from bench.b1_overhead import InstantProvider
    from gateway_core import Gateway, Settings

    providers = {"azure": InstantProvider("azure"), "bedrock": InstantProvider("bedrock")}
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_METRIC_EXPORT_INTERVAL": "1000"}
    envs = {
        "off": {},
        "on": {**otel, "OTEL_SERVICE_NAME": SERVICES["on"]},
        "sampled": {
            **otel,
            "OTEL_SERVICE_NAME": SERVICES["sampled"],
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": SAMPLE_RATIO,
        },
    }
    return {
        name: Gateway(Settings.from_mapping(common.demo_env(work_dir / f"b10-{name}.sqlite", **env)), providers=providers)
        for name, env in envs.items()
    }


def _request():
    from bench.b1_overhead import PROMPT
    from gateway_core import GenerateRequest

    return GenerateRequest(prompt=PROMPT, task="chat", priority="balanced", max_tokens=64)


def _off_steps(gw):
    """The calls ``pipeline.run`` makes for telemetry when it is off, on a real plan, and an empty call."""
    from gateway_core.planning import build_plan
    from gateway_core.telemetry import request_path

    rt = gw.runtime
    plan = build_plan(rt, _request(), streaming=False)
    outcome = object()

    def off_steps():
        trace = request_path.start(rt, plan, None)
        request_path.watcher(rt, trace)
        request_path.end(trace, outcome)

    def empty():
        return None

    return {"off_steps": off_steps, "empty": empty}


def _cpu_per_request_us(gw, burst: int) -> float:
    request = _request()
    gc.collect()
    t0 = time.process_time()
    for _ in range(burst):
        gw.generate(request)
    gw.telemetry.force_flush(timeout_s=30)
    return (time.process_time() - t0) / burst * 1e6


def run_gateway_phase(cfg, sizes: dict) -> dict:
    """Per-request samples of each gateway and of the off-path calls, CPU per request, and what was exported."""
    proc, url = receiver_process()
    gateways = {}
    try:
        gateways = _gateways(cfg.work_dir, url)
        request = _request()
        arms = {name: (lambda gw=gw: gw.generate(request)) for name, gw in gateways.items()}
        samples = common.warm_shuffled_rounds_ms(arms, sizes["gw_rounds"], sizes["warmup"], random.Random(10), PACE_S)
        samples.update(
            common.warm_shuffled_rounds_ms(_off_steps(gateways["off"]), sizes["rounds"], sizes["warmup"], random.Random(10))
        )
        cpu = {name: _cpu_per_request_us(gw, sizes["burst"]) for name, gw in gateways.items()}
        dropped = {name: gateways[name].telemetry.describe()["dropped_requests"] for name in SERVICES}
        for gw in gateways.values():
            gw.close()
        gateways = {}
        received = receiver_summary(proc)
    finally:
        for gw in gateways.values():
            gw.close()
        common.stop_process(proc)
    requests = sizes["gw_rounds"] + sizes["warmup"] + sizes["burst"]
    by_service = received.get("spans_by_service", {})
    exports = {
        "requests_per_gateway": requests,
        "spans_on": by_service.get(SERVICES["on"], 0),
        "spans_on_expected": 2 * requests,  # a request span and one attempt span each
        "spans_sampled": by_service.get(SERVICES["sampled"], 0),
        "sampled_share": by_service.get(SERVICES["sampled"], 0) / (2 * requests),
        "requests_dropped": dropped,
        "rejected": received["rejected"],
    }
    return {"samples": samples, "cpu": cpu, "exports": exports}
