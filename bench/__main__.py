"""``python -m bench --quick|--full [--only B1,B3] [--profile] [--peers]``: run benchmarks, print a summary.

Each benchmark runs in turn; one that crashes is reported and the others still run. A
missed target is a finding, not a failure: the exit code is non-zero only when a
benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from pathlib import Path

from . import common, report
from .registry import BENCHMARKS


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick", help="short run (default; make bench)")
    size.add_argument("--full", dest="mode", action="store_const", const="full", help="long run with the largest sizes")
    size.add_argument("--smoke", dest="mode", action="store_const", const="smoke", help="tiny sizes, to check the harness")
    p.add_argument("--only", default="", help="comma-separated ids, e.g. B1,B3")
    p.add_argument("--profile", action="store_true", help="save pyinstrument profiles where supported")
    p.add_argument("--peers", action="store_true", help="also measure LiteLLM's SDK (B1) and proxy (B6), when installed")
    p.add_argument("--results-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("--keep-work-dir", action="store_true", help="keep the temporary databases for inspection")
    p.set_defaults(mode="quick")
    return p.parse_args(argv)


def _select(only: str) -> list:
    wanted = {s.strip().upper() for s in only.split(",") if s.strip()}
    unknown = wanted - {m.ID for m in BENCHMARKS}
    if unknown:
        raise SystemExit(f"unknown benchmark id(s): {', '.join(sorted(unknown))}")
    return [m for m in BENCHMARKS if not wanted or m.ID in wanted]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    common.hermetic_process_env()
    cfg = common.Config(mode=args.mode, results_dir=args.results_dir, profile=args.profile, peers=args.peers)
    print(f"bench mode={cfg.mode} cores={common.machine_facts()['cores']} python={common.machine_facts()['python']}")
    results, failed = [], []
    t_all = time.perf_counter()
    try:
        for module in _select(args.only):
            if cfg.mode not in getattr(module, "MODES", common.MODES):
                print(f"\n== {module.ID} skipped in {cfg.mode} mode (runs in: {', '.join(module.MODES)})")
                continue
            print(f"\n== {module.ID} {module.TITLE}", flush=True)
            t0 = time.perf_counter()
            try:
                result = module.run(cfg)
            except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
                traceback.print_exc()
                failed.append(module.ID)
                continue
            path = common.write_result(result, cfg.results_dir)
            results.append(result)
            print(
                f"   {module.ID} done in {time.perf_counter() - t0:.1f} s -> {path.relative_to(common.ROOT) if path.is_relative_to(common.ROOT) else path}"
            )
    finally:
        if not args.keep_work_dir:
            shutil.rmtree(cfg.work_dir, ignore_errors=True)
    print(f"\n== summary ({cfg.mode}, {time.perf_counter() - t_all:.0f} s)")
    print(report.summary_table(results))
    print()
    print(report.headlines(results))
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
