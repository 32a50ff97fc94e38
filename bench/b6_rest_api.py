"""B6: the REST API's ``/v1/chat/completions`` under load, against ``Gateway.generate`` in-process.

The API runs as ``gateway serve`` subprocesses (1 and 2 uvicorn workers) on free loopback
ports. Both it and the baseline, ``Gateway.generate`` in this process, talk to one
standalone zero-latency emulator process (``gateway emulators``, the gateway in live mode
pointed at it): with the emulators inside the measuring process they would compete with
it for the GIL and the baseline would come out slower than the API. An asyncio ``httpx``
client keeps 32 requests in flight; the baseline uses 32 threads. At concurrency 1 the
added latency is measured against the same call made directly: each round sends, in a
shuffled order, the openai SDK's call straight to the emulator, the same SDK call through
``/v1``, and a bare ``GET /healthz`` (one HTTP hop, the floor). With ``--peers`` and LiteLLM
installed, its proxy is one more arm and one more load test. Load generator, API workers
and emulator share two cores, which is part of every number here.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from . import common, peers
from .common import Config, Target, clock, summarize

ID = "B6"
NAME = "b6_rest_api"
TITLE = "REST /v1/chat/completions at concurrency 32 (1 and 2 workers) against Gateway.generate in-process"

SIZES = {
    "smoke": {"workers": [1], "concurrency": 4, "requests": 20, "sequential": 5},
    "quick": {"workers": [1, 2], "concurrency": 32, "requests": 400, "sequential": 80},
    "full": {"workers": [1, 2], "concurrency": 32, "requests": 8000, "sequential": 1000},
}
TARGET_ADDED_P50_MS = 1.5  # one HTTP hop plus the in-process gateway
TARGET_THROUGHPUT_RATIO = 0.9  # at concurrency 32, 2 workers, against Gateway.generate in-process
API_VERSION = "2024-10-21"
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


async def _drive(base: str, concurrency: int, total: int, body: dict = BODY, key: str | None = None) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:

        async def one_worker():
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t0 = clock()
                try:
                    r = await client.post("/v1/chat/completions", json=body)
                    key = str(r.status_code)
                except httpx.HTTPError as e:  # counted, not fatal: a dropped connection is a finding
                    key = f"error:{type(e).__name__}"
                latencies.append((clock() - t0) * 1000)
                statuses[key] = statuses.get(key, 0) + 1

        for _ in range(concurrency):  # warm every connection first
            await client.post("/v1/chat/completions", json=body)
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


def _sequential_arms(live: dict, base: str, peer_base: str | None) -> tuple[dict, list]:
    """name -> one call at concurrency 1, all made with the openai SDK (the bare hop with httpx)."""
    import httpx
    import openai

    direct = openai.AzureOpenAI(
        azure_endpoint=live["AZURE_OPENAI_ENDPOINT"], api_key=live["AZURE_OPENAI_API_KEY"], api_version=API_VERSION, max_retries=0
    )
    gateway = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
    hop = httpx.Client(base_url=base)
    messages = [{"role": "user", "content": PROMPT}]
    arms = {
        "direct": lambda: direct.chat.completions.create(model=common.AZURE_DEPLOYMENT, messages=messages, max_tokens=MAX_TOKENS),
        "gateway /v1": lambda: gateway.chat.completions.create(model="azure", messages=messages, max_tokens=MAX_TOKENS),
        "healthz": lambda: hop.get("/healthz").raise_for_status(),
    }
    clients = [direct, gateway, hop]
    if peer_base:
        proxy = openai.OpenAI(base_url=peer_base + "/v1", api_key=peers.PROXY_KEY, max_retries=0)
        arms["litellm proxy"] = lambda: proxy.chat.completions.create(
            model=peers.PROXY_MODEL, messages=messages, max_tokens=MAX_TOKENS
        )
        clients.append(proxy)
    return arms, clients


def _sequential(live: dict, base: str, peer_base: str | None, rounds: int, seed: int = 6) -> dict:
    """Concurrency 1: every round calls every arm once, in a shuffled order; p50s and the added p50s."""
    arms, clients = _sequential_arms(live, base, peer_base)
    try:
        for _ in range(10):
            for fn in arms.values():
                fn()
        rng, names = random.Random(seed), list(arms)
        samples = {name: [] for name in names}
        for _ in range(rounds):
            rng.shuffle(names)
            for name in names:
                t0 = clock()
                arms[name]()
                samples[name].append((clock() - t0) * 1000)
    finally:
        for client in clients:
            client.close()
    out = {name: summarize(v) for name, v in samples.items()}
    direct = out["direct"]["p50"]
    out["added_p50_ms"] = {name: out[name]["p50"] - direct for name in arms if name != "direct"}
    return out


def _api(cfg: Config, workers: int, sizes: dict, live: dict, peer_base: str | None) -> dict:
    proc, base, started_s = _start_server(cfg, workers, live)
    try:
        seq = _sequential(live, base, peer_base, sizes["sequential"])
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
    proxy = None
    try:
        if cfg.peers and peers.available():
            proxy = peers.start_proxy(cfg, live["AZURE_OPENAI_ENDPOINT"], common.AZURE_DEPLOYMENT, API_VERSION)
        return _run(cfg, sizes, live, t_start, proxy[1] if proxy else None)
    finally:
        if proxy:
            _stop(proxy[0])
        _stop(emulators)


def _peer_load(cfg: Config, sizes: dict, peer_base: str | None) -> dict | None:
    if not peer_base:
        return None
    body = {**BODY, "model": peers.PROXY_MODEL}
    loaded = _run_async(_drive(peer_base, sizes["concurrency"], sizes["requests"], body, peers.PROXY_KEY))
    cfg.log(
        f"  LiteLLM proxy, 1 worker: c={sizes['concurrency']} {loaded['req_per_s']:,.0f} req/s | statuses {loaded['statuses']}"
    )
    return loaded


def _log_api(cfg: Config, workers: int, m: dict, concurrency: int) -> None:
    c, s = m["concurrent"], m["sequential"]
    added = ", ".join(f"{k} {v:+.2f}" for k, v in s["added_p50_ms"].items())
    cfg.log(
        f"  API {workers} worker(s): c=1 direct p50 {s['direct']['p50']:.2f} ms, added p50: {added} ms | c={concurrency} "
        f"{c['req_per_s']:,.0f} req/s ({m['throughput_ratio_vs_in_process']}x in-process) p50 {c['latency_ms']['p50']:.1f} "
        f"p99 {c['latency_ms']['p99']:.1f} ms | statuses {c['statuses']} | started in {m['server_start_s']:.1f} s"
    )


def _run(cfg: Config, sizes: dict, live: dict, t_start: float, peer_base: str | None) -> dict:
    base = _in_process(cfg, live, sizes["concurrency"], sizes["requests"], sizes["sequential"])
    cfg.log(
        f"  in-process: c=1 p50 {base['sequential_latency_ms']['p50']:.2f} ms | c={sizes['concurrency']} "
        f"{base['req_per_s']:,.0f} req/s p50 {base['latency_ms']['p50']:.1f} p99 {base['latency_ms']['p99']:.1f} ms"
    )
    metrics, targets = {"in_process": base}, []
    for workers in sizes["workers"]:
        m = _api(cfg, workers, sizes, live, peer_base)
        c = m["concurrent"]
        m["added_sequential_p50_ms"] = m["sequential"]["added_p50_ms"]["gateway /v1"]
        m["added_concurrent_p50_ms"] = c["latency_ms"]["p50"] - base["latency_ms"]["p50"]
        m["added_concurrent_p99_ms"] = c["latency_ms"]["p99"] - base["latency_ms"]["p99"]
        m["throughput_ratio_vs_in_process"] = common.ratio(c["req_per_s"], base["req_per_s"])
        metrics[f"api_{workers}_worker{'s' if workers > 1 else ''}"] = m
        _log_api(cfg, workers, m, sizes["concurrency"])
        bad = sum(v for k, v in c["statuses"].items() if k != "200")
        if workers == 1:
            targets.append(
                Target(
                    "1 worker: added p50 at concurrency 1 over the direct SDK call",
                    m["added_sequential_p50_ms"],
                    TARGET_ADDED_P50_MS,
                    "ms",
                )
            )
        else:
            targets.append(
                Target(
                    f"{workers} workers: req/s at concurrency {sizes['concurrency']} / in-process",
                    m["throughput_ratio_vs_in_process"],
                    TARGET_THROUGHPUT_RATIO,
                    "x",
                    at_least=True,
                )
            )
        targets.append(Target(f"{workers} worker(s): non-200 responses", bad, 0, "responses"))
    peer_load = _peer_load(cfg, sizes, peer_base)
    if peer_load:
        metrics["litellm_proxy_concurrent"] = peer_load
    common.report_targets(cfg, targets)
    return _result(cfg, sizes, metrics, targets, t_start, peer_base)


def _result(cfg: Config, sizes: dict, metrics: dict, targets: list, t_start: float, peer_base: str | None) -> dict:
    base = metrics["in_process"]
    notes = [
        "added p50 at concurrency 1 = arm p50 minus the direct openai SDK call's p50, arms shuffled every round",
        "API and baseline both call one standalone zero-latency emulator process (gateway in live mode)",
        "load generator, API workers and emulator share the same two cores",
    ]
    if cfg.peers:
        notes.append(
            f"LiteLLM {peers.version()} proxy (1 worker) on the same emulator"
            if peer_base
            else "--peers: litellm is not installed"
        )
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics=metrics,
        targets=targets,
        notes=notes,
        duration_s=clock() - t_start,
        headlines=[
            f"in-process: {base['req_per_s']:,.0f} req/s at c={sizes['concurrency']}, c=1 p50 "
            f"{base['sequential_latency_ms']['p50']:.2f} ms"
        ]
        + [
            f"{k}: {m['concurrent']['req_per_s']:,.0f} req/s (x{m['throughput_ratio_vs_in_process']}), c=1 added p50 over "
            f"the direct SDK call: " + ", ".join(f"{arm} {v:+.2f} ms" for arm, v in m["sequential"]["added_p50_ms"].items())
            for k, m in metrics.items()
            if k.startswith("api_")
        ],
    )
