"""Fresh-process probe for B7: what the console's first Analytics render computes, step by step.

Run as ``python -m bench._b7_probe DB [--apptest]``; prints one JSON line. The steps are
what a newly started console process does before the Analytics page can draw: import the
library, build the gateway (demo mode starts the emulators and seeds routing statistics
from the log), open the DuckDB mirror the way the console does (persisted beside the log:
a first start loads every row, a restart only the rows added since), and run the page's
queries.
With ``--apptest`` it also renders ``pages/analytics.py`` through Streamlit's AppTest
harness in this same fresh process (the script runs for real, without a browser).
"""

from __future__ import annotations

import json
import os
import sys
import time

clock = time.perf_counter


def _steps(db: str) -> dict:
    out = {}
    t0 = clock()
    import gateway_core  # noqa: F401
    from gateway_core.analytics import Analytics, Filters
    from gateway_core.gateway import Gateway

    out["import_s"] = clock() - t0

    t0 = clock()
    gw = Gateway.from_env(dotenv_path=None)
    out["gateway_init_s"] = clock() - t0

    # As the console opens it: the DuckDB mirror persisted beside the log.
    mirror = f"{db}.duckdb"
    out["mirror_file_existed"] = os.path.exists(mirror)
    t0 = clock()
    analytics = Analytics(db, max_staleness_s=2.0, mirror_path=mirror)
    out["rows_loaded"] = analytics.refresh(force=True)
    out["mirror_load_s"] = clock() - t0

    from .b5_analytics import PAGE

    t0 = clock()
    f = Filters()
    for name, fn in PAGE:
        if hasattr(analytics, name):
            fn(analytics, f)
    out["page_queries_s"] = clock() - t0
    analytics.close()
    gw.close()
    return out


def _apptest(root: str) -> dict:
    from streamlit.testing.v1 import AppTest

    page = os.path.join(root, "pages", "analytics.py")
    if not os.path.exists(page):
        return {"apptest_error": "pages/analytics.py not found"}
    t0 = clock()
    at = AppTest.from_file(page, default_timeout=120)
    at.run()
    elapsed = clock() - t0
    errors = [str(e.value)[:200] for e in at.exception]
    charts = len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart"))
    return {"apptest_render_s": elapsed, "apptest_exceptions": errors, "apptest_charts": charts}


def main(argv: list[str]) -> int:
    db = argv[0]
    t_start = clock()
    out = _steps(db)
    if "--apptest" in argv:
        from .common import ROOT

        out.update(_apptest(str(ROOT)))
    out["process_s"] = clock() - t_start
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
