"""B6: the REST API's ``/v1/chat/completions`` under load, against ``Gateway.generate`` in-process.

The API runs as ``gateway serve`` subprocesses (1 and 2 uvicorn workers) on free loopback
ports. Both it and the baseline, ``Gateway.generate`` in this process, talk to one
standalone zero-latency emulator process (``gateway emulators``, the gateway in live mode
pointed at it): with the emulators inside the measuring process they would compete with
it for the GIL and the baseline would come out slower than the API. An asyncio ``httpx``
client keeps 32 requests in flight; the baseline uses 32 threads. A short sequential run
(concurrency 1) gives the added latency without queueing. Load generator, API workers and
emulator share two cores, which is part of every number here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from . import common
from .common import Config, Target, clock, summarize

ID = "B6"
NAME = "b6_rest_api"
TITLE = "REST /v1/chat/completions at concurrency 32 (1 and 2 workers) against Gateway.generate in-process"

SIZES = {
    "smoke": {"workers": [1], "concurrency": 4, "requests": 20, "sequential": 5},
    "quick": {"workers": [1, 2], "concurrency": 32, "requests": 400, "sequential": 80},
    "full": {"workers": [1, 2], "concurrency": 32, "requests": 8000, "sequential": 1000},
}
# No target is set for this benchmark in the brief; the bar is LiteLLM's published overhead.
PEER_ADDED_MS = 3.25
MAX_TOKENS = 64
PROMPT = "List three ways to cut the cost of an LLM-backed support bot without hurting answer quality."
BODY = {"model": "azure", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}


def _spawn(cfg: Config, args: list[str], env: dict, tag: str, health: str) -> tuple[subprocess.Popen, float]:
    log = open(cfg.work_dir / f"b6_{tag}.log", "wb")
    t0 = clock()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_core.cli", *args],
        cwd=common.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        common.wait_http_ok(health, 60, proc)
    except Exception as e:
        _stop(proc)
        raise RuntimeError(f"{tag} did not start: {(cfg.work_dir / f'b6_{tag}.log').read_text()[-2000:]}") from e
    return proc, clock() - t0


def _start_emulators(cfg: Config) -> tuple[subprocess.Popen, dict]:
    azure, bedrock = common.free_port(), common.free_port()
    env = common.subprocess_env(cfg.work_dir / "b6_unused.sqlite", "zero")
    proc, _ = _spawn(
        cfg,
        ["emulators", "--azure-port", str(azure), "--bedrock-port", str(bedrock), "--profile", "zero", "--host", "127.0.0.1"],
        env,
        "emulators",
        f"http://127.0.0.1:{azure}/_emulator/stats",
    )
    live = {
        "GATEWAY_MODE": "live",
        "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{azure}",
        "AZURE_OPENAI_API_KEY": "bench-key",
        "BEDROCK_ENDPOINT_URL": f"http://127.0.0.1:{bedrock}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
    }
    return proc, live


def _start_server(cfg: Config, workers: int, live: dict) -> tuple[subprocess.Popen, str, float]:
    port = common.free_port()
    env = common.subprocess_env(cfg.work_dir / f"b6_w{workers}.sqlite", "zero", **live)
    base = f"http://127.0.0.1:{port}"
    proc, started = _spawn(
        cfg,
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env,
        f"api_w{workers}",
        base + "/healthz",
    )
    return proc, base, started


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its uvicorn workers: they share the session this process started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


async def _drive(base: str, concurrency: int, total: int) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_worker():
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t0 = clock()
                try:
                    r = await client.post("/v1/chat/completions", json=BODY)
                    key = str(r.status_code)
                except httpx.HTTPError as e:  # counted, not fatal: a dropped connection is a finding
                    key = f"error:{type(e).__name__}"
                latencies.append((clock() - t0) * 1000)
                statuses[key] = statuses.get(key, 0) + 1

        for _ in range(concurrency):  # warm every connection first
            await client.post("/v1/chat/completions", json=BODY)
        t0 = clock()
        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        wall = clock() - t0
    return {"req_per_s": total / wall, "latency_ms": summarize(latencies), "statuses": statuses}


def _in_process(cfg: Config, live: dict, concurrency: int, total: int, sequential: int) -> dict:
    from gateway_core import ChatMessage, Gateway, GenerateRequest

    gw = Gateway.from_env(common.demo_env(cfg.work_dir / "b6_inproc.sqlite", "zero", **live), dotenv_path=None)

    def one() -> float:
        t0 = clock()
        gw.generate(
            GenerateRequest(
                prompt=PROMPT, task="chat", provider_hint="azure", max_tokens=MAX_TOKENS, messages=(ChatMessage("user", PROMPT),)
            )
        )
        return (clock() - t0) * 1000

    try:
        seq = [one() for _ in range(sequential + 10)][10:]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(lambda _: one(), range(concurrency)))
            t0 = clock()
            lat = list(pool.map(lambda _: one(), range(total)))
            wall = clock() - t0
    finally:
        gw.close()
    return {"sequential_latency_ms": summarize(seq), "req_per_s": total / wall, "latency_ms": summarize(lat)}


def _run_async(coro):
    """Run the load generator's event loop on its own thread: the caller's thread may
    already be running one (Playwright's sync API does, in the same test session)."""
    box = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="b6-load")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _api(cfg: Config, workers: int, sizes: dict, live: dict) -> dict:
    proc, base, started_s = _start_server(cfg, workers, live)
    try:
        seq = _run_async(_drive(base, 1, sizes["sequential"]))
        loaded = _run_async(_drive(base, sizes["concurrency"], sizes["requests"]))
    finally:
        _stop(proc)
    log = (cfg.work_dir / f"b6_api_w{workers}.log").read_text(errors="replace").splitlines()
    # Keep what the server said besides its per-request access lines: the cause of any failure.
    unusual = [line for line in log if "200 OK" not in line and not line.startswith("INFO:")]
    return {"server_start_s": started_s, "sequential": seq, "concurrent": loaded, "server_log_unusual": unusual[-40:]}


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t_start = clock()
    emulators, live = _start_emulators(cfg)
    try:
        return _run(cfg, sizes, live, t_start)
    finally:
        _stop(emulators)


def _run(cfg: Config, sizes: dict, live: dict, t_start: float) -> dict:
    base = _in_process(cfg, live, sizes["concurrency"], sizes["requests"], sizes["sequential"])
    cfg.log(
        f"  in-process: c=1 p50 {base['sequential_latency_ms']['p50']:.2f} ms | c={sizes['concurrency']} "
        f"{base['req_per_s']:,.0f} req/s p50 {base['latency_ms']['p50']:.1f} p99 {base['latency_ms']['p99']:.1f} ms"
    )
    metrics, targets = {"in_process": base}, []
    for workers in sizes["workers"]:
        m = _api(cfg, workers, sizes, live)
        c, s = m["concurrent"], m["sequential"]
        m["added_sequential_p50_ms"] = s["latency_ms"]["p50"] - base["sequential_latency_ms"]["p50"]
        m["added_sequential_p99_ms"] = s["latency_ms"]["p99"] - base["sequential_latency_ms"]["p99"]
        m["added_concurrent_p50_ms"] = c["latency_ms"]["p50"] - base["latency_ms"]["p50"]
        m["added_concurrent_p99_ms"] = c["latency_ms"]["p99"] - base["latency_ms"]["p99"]
        m["throughput_ratio_vs_in_process"] = common.ratio(c["req_per_s"], base["req_per_s"])
        metrics[f"api_{workers}_worker{'s' if workers > 1 else ''}"] = m
        cfg.log(
            f"  API {workers} worker(s): c=1 p50 {s['latency_ms']['p50']:.2f} ms (added "
            f"{m['added_sequential_p50_ms']:+.2f}) | c={sizes['concurrency']} {c['req_per_s']:,.0f} req/s "
            f"({m['throughput_ratio_vs_in_process']}x in-process) p50 {c['latency_ms']['p50']:.1f} p99 "
            f"{c['latency_ms']['p99']:.1f} ms | statuses {c['statuses']} | started in {m['server_start_s']:.1f} s"
        )
        bad = sum(v for k, v in (*c["statuses"].items(), *s["statuses"].items()) if k != "200")
        targets.append(
            Target(
                f"{workers} worker(s): added p50 at concurrency 1 (peer bar)", m["added_sequential_p50_ms"], PEER_ADDED_MS, "ms"
            )
        )
        targets.append(Target(f"{workers} worker(s): non-200 responses", bad, 0, "responses"))
    common.report_targets(cfg, targets)
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics=metrics,
        targets=targets,
        notes=[
            "no target is set for B6; the latency bar is LiteLLM's published 3.25 ms overhead over the raw API",
            "API and baseline both call one standalone zero-latency emulator process (gateway in live mode)",
            "load generator, API workers and emulator share the same two cores",
        ],
        duration_s=clock() - t_start,
        headlines=[
            f"in-process: {base['req_per_s']:,.0f} req/s at c={sizes['concurrency']}, c=1 p50 "
            f"{base['sequential_latency_ms']['p50']:.2f} ms"
        ]
        + [
            f"{k}: {m['concurrent']['req_per_s']:,.0f} req/s (x{m['throughput_ratio_vs_in_process']}), c=1 added p50 "
            f"{m['added_sequential_p50_ms']:+.2f} ms, c={sizes['concurrency']} added p50 {m['added_concurrent_p50_ms']:+.1f} ms "
            f"p99 {m['added_concurrent_p99_ms']:+.1f} ms"
            for k, m in metrics.items()
            if k.startswith("api_")
        ],
    )
