"""Shared machinery for the benchmarks: clocks, percentiles, targets, machine facts, results.

Every benchmark measures its own baseline in the same run and reports medians and
percentiles of raw samples, because the machines this runs on are shared and noisy: a
ratio measured side by side means something, an absolute time from another day does not.
A result is one JSON document per benchmark in ``bench/results/<name>.json``.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import math
import os
import platform
import socket
import sqlite3
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODES = ("smoke", "quick", "full")
PACKAGES = (
    "openai",
    "boto3",
    "botocore",
    "duckdb",
    "streamlit",
    "fastapi",
    "uvicorn",
    "httpx",
    "pyarrow",
    "tiktoken",
    "opentelemetry-sdk",
)

clock = time.perf_counter


@dataclass
class Config:
    """How one run is sized and where it writes. ``mode`` is smoke (tests), quick or full."""

    mode: str = "quick"
    results_dir: Path = RESULTS_DIR
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gateway-bench-")))
    profile: bool = False
    quiet: bool = False
    peers: bool = False  # also measure LiteLLM beside the gateway (bench/peers.py), when installed

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def sizes(self, table: dict) -> dict:
        return dict(table[self.mode])


# --- statistics ------------------------------------------------------------------------


def policy_stats(policy) -> dict:
    """A policy engine's statistics for a committed result: its files named from the
    repository root, not by this machine's paths."""
    stats = policy.stats()
    return {**stats, "files": [str(Path(f).relative_to(ROOT)) for f in stats["files"]]}


def percentile(samples: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of raw samples, as numpy's default."""
    if not samples:
        return math.nan
    s = sorted(samples)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(samples: list[float]) -> dict:
    """p50/p90/p99 and friends of raw samples (same unit in, same unit out)."""
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "mean": sum(samples) / len(samples),
        "min": min(samples),
        "max": max(samples),
    }


def time_ms(fn: Callable[[], object]) -> float:
    t0 = clock()
    fn()
    return (clock() - t0) * 1000.0


def repeat_ms(fn: Callable[[], object], n: int) -> list[float]:
    return [time_ms(fn) for _ in range(n)]


def shuffled_rounds_us(arms: dict, names: list[str], rounds: int, rng, pace_s: float = 0.0) -> dict[str, list[float]]:
    """Microseconds per call of each named arm: every round calls each once, in a freshly
    shuffled order (drift on a shared machine hits all arms alike), then sleeps ``pace_s``."""
    samples: dict[str, list[float]] = {name: [] for name in names}
    order = list(names)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            fn = arms[name]
            t0 = clock()
            fn()
            samples[name].append((clock() - t0) * 1e6)
        if pace_s:
            time.sleep(pace_s)
    return samples


def warm_shuffled_rounds_us(arms: dict, rounds: int, warmup: int, rng, pace_s: float = 0.0) -> dict[str, list[float]]:
    """``shuffled_rounds_us`` over every arm, after ``warmup`` calls of each and a collection."""
    for _ in range(warmup):
        for fn in arms.values():
            fn()
    gc.collect()
    return shuffled_rounds_us(arms, list(arms), rounds, rng, pace_s)


def warm_shuffled_rounds_ms(arms: dict, rounds: int, warmup: int, rng, pace_s: float = 0.0) -> dict[str, list[float]]:
    """``warm_shuffled_rounds_us`` in milliseconds."""
    samples = warm_shuffled_rounds_us(arms, rounds, warmup, rng, pace_s)
    return {name: [us / 1000.0 for us in values] for name, values in samples.items()}


def ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 3) if baseline and not math.isnan(baseline) else None


# --- targets and results -----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One goal: ``value`` compared with ``limit``; lower is better unless ``at_least``."""

    name: str
    value: float | None
    limit: float
    unit: str
    at_least: bool = False

    @property
    def met(self) -> bool:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return False
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "value": _round(self.value),
            "target": f"{'>=' if self.at_least else '<='} {self.limit:g} {self.unit}".strip(),
            "limit": self.limit,
            "unit": self.unit,
            "pass": self.met,
        }

    def line(self) -> str:
        v = "n/a" if self.value is None else f"{self.value:,.3f}".rstrip("0").rstrip(".")
        return f"  {'PASS' if self.met else 'MISS'}  {self.name}: {v} {self.unit} (target {self.to_dict()['target']})"


def _round(value):
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_facts() -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "sqlite": sqlite3.sqlite_version,
        "packages": package_versions(),
        "tiktoken_offline_cache": bool(os.environ.get("TIKTOKEN_CACHE_DIR")),
        # Shared machines are noisy: the load when the result was written says how much.
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def make_result(
    bench_id: str,
    name: str,
    title: str,
    cfg: Config,
    *,
    sizes: dict,
    metrics: dict,
    targets: list[Target],
    notes: list[str] | None = None,
    duration_s: float | None = None,
    headlines: list[str] | None = None,
) -> dict:
    """One result document. ``headlines`` are the few sentences a reader wants: value vs baseline."""
    return {
        "benchmark": bench_id,
        "name": name,
        "title": title,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": cfg.mode,
        "machine": machine_facts(),
        "sizes": sizes,
        "metrics": _round(metrics),
        "targets": [t.to_dict() for t in targets],
        "pass": all(t.met for t in targets),
        "headlines": list(headlines or []),
        "notes": list(notes or []),
        "duration_s": _round(duration_s),
    }


def write_result(result: dict, results_dir: Path) -> Path:
    """Write atomically, so a run killed half-way never leaves a truncated JSON file."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result['name']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def report_targets(cfg: Config, targets: list[Target]) -> None:
    for t in targets:
        cfg.log(t.line())


# --- environment helpers -----------------------------------------------------------------


HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
AZURE_DEPLOYMENT = "gpt-4o-mini"


def hermetic_process_env() -> None:
    """Keep boto3 from probing instance metadata or profile files: the emulators need neither."""
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
    os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def demo_env(db_path: Path, profile: str = "zero", **extra: str) -> dict[str, str]:
    """Environment for a demo-mode gateway with one model per provider, so a pinned call is one HTTP call."""
    env = {
        "GATEWAY_MODE": "demo",
        "GATEWAY_EMULATOR_PROFILE": profile,
        "GATEWAY_DB_PATH": str(db_path),
        "AZURE_OPENAI_DEPLOYMENT": AZURE_DEPLOYMENT,
        "BEDROCK_MODEL_ID": HAIKU,
        "GATEWAY_TIMEOUT_S": "30",
    }
    env.update(extra)
    return env


def subprocess_env(db_path: Path, profile: str = "zero", **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(demo_env(db_path, profile, **extra))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http_ok(url: str, timeout_s: float, proc=None) -> float:
    """Poll ``url`` until it answers 200; return the seconds waited. Raises on timeout or a dead process."""
    t0 = clock()
    while clock() - t0 < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return clock() - t0
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def stop_process(proc, timeout_s: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except Exception:  # noqa: BLE001 - a stuck server must not outlive the benchmark
        proc.kill()
        proc.wait(5)


def profile_text(fn: Callable[[], object], repeat: int = 200) -> str | None:
    """A pyinstrument text profile of ``fn`` run ``repeat`` times, or None without pyinstrument."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(repeat):
        fn()
    profiler.stop()
    return profiler.output_text(unicode=False, color=False, show_all=False)


def save_profile(cfg: Config, name: str, text: str | None) -> str | None:
    if not text:
        return None
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.results_dir / f"{name}.profile.txt"
    path.write_text(text.replace(f"{ROOT}/", ""))  # repository-relative, like the rest of the result
    return path.name
