"""B7: console cold start to the first Analytics render, with a 1M-request usage log.

The console keeps its DuckDB mirror in a file beside the log, so a cold start is normally
a restart that loads only the rows added since; the first start on a full log loads every
row. Both are measured. Three measurements, each from a fresh process:

1. ``streamlit run console/app.py`` (headless, free loopback port) until
   ``/_stcore/health`` answers: the server is up.
2. The probe (``bench._b7_probe``): import the library, build the gateway, load the DuckDB
   mirror, run the Analytics page's queries; with ``--apptest`` it also renders
   ``pages/analytics.py`` through Streamlit's AppTest harness.
3. If Debian's Chromium (``chromium`` on the PATH) and Playwright are both present: a real
   browser opens the Analytics page on the server from step 1 and waits for the first
   Vega-Lite chart.

Without a browser the cold start is step 1 plus step 2's import, gateway, mirror and
query times: what the first session must do before the page can draw.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from . import common, datasets
from .common import Config, Target, clock

ID = "B7"
NAME = "b7_console_start"
TITLE = "Console cold start to the first Analytics render at 1M requests"

SIZES = {
    "smoke": {"requests": 2_000, "cache": False, "apptest": False, "browser": False},
    "full": {"requests": 1_000_000, "cache": True, "apptest": True, "browser": True},
}
# Loading the 1M-row mirror takes tens of seconds here, so this runs in full mode only.
MODES = ("smoke", "full")
TARGET_S = 3.0


def _env(db: Path) -> dict:
    env = common.subprocess_env(db, "zero")
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    return env


def _start_streamlit(cfg: Config, db: Path) -> tuple[subprocess.Popen, int, float]:
    port = common.free_port()
    log = open(cfg.work_dir / "b7_streamlit.log", "wb")
    t0 = clock()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(common.ROOT / "console" / "app.py"),
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--server.headless=true",
            "--browser.gatherUsageStats=false",
        ],
        cwd=common.ROOT,
        env=_env(db),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        common.wait_http_ok(f"http://127.0.0.1:{port}/_stcore/health", 60, proc)
    except Exception as e:
        _stop(proc)
        raise RuntimeError("streamlit did not start: " + (cfg.work_dir / "b7_streamlit.log").read_text()[-2000:]) from e
    return proc, port, clock() - t0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _probe(db: Path, apptest: bool) -> dict:
    args = [sys.executable, "-m", "bench._b7_probe", str(db)] + (["--apptest"] if apptest else [])
    t0 = clock()
    done = subprocess.run(args, cwd=common.ROOT, env=_env(db), capture_output=True, text=True, timeout=600)
    wall = clock() - t0
    if done.returncode != 0:
        raise RuntimeError("probe failed: " + done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["probe_wall_s"] = wall
    return out


def _chromium() -> str | None:
    """Debian's Chromium on the PATH, if installed: Playwright's own browser download fails offline."""
    if shutil.which("chromium") is None:
        return None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return shutil.which("chromium")


def _browser_first_render(chromium: str, port: int, t_server_spawn: float) -> dict:
    """Open the Analytics page and wait for its first chart; seconds from server spawn and from navigation."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            t0 = clock()
            page.goto(f"http://127.0.0.1:{port}/analytics")
            page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=120_000)
            t1 = clock()
        finally:
            browser.close()
    return {"browser_navigation_to_chart_s": t1 - t0, "browser_spawn_to_chart_s": t1 - t_server_spawn}


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t_start = clock()
    src, facts = datasets.usage_db(sizes["requests"], cache=sizes["cache"], work_dir=cfg.work_dir)
    db = cfg.work_dir / "b7_console.sqlite"
    shutil.copyfile(src, db)  # the console's gateway writes to its log; the cached file stays untouched
    cfg.log(f"  {facts['rows']:,} rows in the log")
    first = _probe(db, False)  # no mirror file yet: the first start after the log filled up
    probe = _probe(db, sizes["apptest"])  # a restart: the mirror file from the first start is there
    t_spawn = clock()
    proc, port, server_s = _start_streamlit(cfg, db)
    metrics = {
        "log_rows": facts["rows"],
        "streamlit_start_to_health_s": server_s,
        "fresh_process": probe,
        "first_start_process": first,
    }
    try:
        chromium = _chromium() if sizes["browser"] else None
        if chromium:
            metrics["browser"] = _browser_first_render(chromium, port, t_spawn)
    finally:
        _stop(proc)
    compute_s = probe["import_s"] + probe["gateway_init_s"] + probe["mirror_load_s"] + probe["page_queries_s"]
    metrics["components_total_s"] = server_s + compute_s
    first_s = server_s + first["import_s"] + first["gateway_init_s"] + first["mirror_load_s"] + first["page_queries_s"]
    metrics["first_start_components_total_s"] = first_s
    cfg.log(f"  first start (no mirror file): mirror load {first['mirror_load_s']:.2f} s, total {first_s:.2f} s")
    cfg.log(
        f"  streamlit up in {server_s:.2f} s | fresh process: import {probe['import_s']:.2f} s, gateway "
        f"{probe['gateway_init_s']:.2f} s, mirror load {probe['mirror_load_s']:.2f} s, page queries "
        f"{probe['page_queries_s']:.2f} s | total {metrics['components_total_s']:.2f} s"
    )
    if "apptest_render_s" in probe:
        cfg.log(
            f"  AppTest render of pages/analytics.py (warm imports): {probe['apptest_render_s']:.2f} s, "
            f"{probe.get('apptest_charts', 0)} charts, exceptions {probe.get('apptest_exceptions')}"
        )
    notes = [
        "no browser measurement: not in this mode, or Chromium or Playwright missing"
        if "browser" not in metrics
        else "browser: Debian Chromium via Playwright, waiting for the first stVegaLiteChart"
    ]
    if "apptest_error" in probe:
        notes.append(f"AppTest render skipped: {probe['apptest_error']}")
    headline = metrics["browser"]["browser_spawn_to_chart_s"] if "browser" in metrics else metrics["components_total_s"]
    what = "spawn to first chart (browser)" if "browser" in metrics else "server start + first-session compute"
    targets = [
        Target(f"cold start to first Analytics render, {what}", headline, TARGET_S, "s"),
        Target("first start before any mirror file exists, server start + compute", first_s, TARGET_S, "s"),
    ]
    common.report_targets(cfg, targets)
    line = (
        f"restart: streamlit up {server_s:.2f} s + import {probe['import_s']:.2f} s + gateway {probe['gateway_init_s']:.2f} s + "
        f"mirror load {probe['mirror_load_s']:.2f} s + page queries {probe['page_queries_s']:.2f} s "
        f"= {metrics['components_total_s']:.2f} s at {facts['rows']:,} rows; first start (mirror built from "
        f"scratch) {first_s:.2f} s"
    )
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes={**sizes, "rows": facts["rows"]},
        metrics=metrics,
        targets=targets,
        notes=notes,
        duration_s=clock() - t_start,
        headlines=[line],
    )
