"""Tables from benchmark results: the run summary and the README "Performance" table.

``python -m bench.report`` prints a Markdown table of every result in ``bench/results``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import RESULTS_DIR


def _value(t: dict) -> str:
    v = t.get("value")
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"


def rows(results: list[dict]) -> list[tuple[str, str, str, str, str]]:
    out = []
    for r in results:
        for t in r.get("targets", []):
            out.append(
                (r["benchmark"], t["name"], f"{_value(t)} {t['unit']}".strip(), t["target"], "met" if t["pass"] else "MISSED")
            )
    return out


def summary_table(results: list[dict]) -> str:
    lines = ["| id | measure | value | target | result |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows(results)]
    return "\n".join(lines)


def headlines(results: list[dict]) -> str:
    return "\n".join(f"- {r['benchmark']}: {line}" for r in results for line in r.get("headlines", []))


def load(results_dir: Path = RESULTS_DIR) -> list[dict]:
    found = []
    for path in sorted(results_dir.glob("b*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


if __name__ == "__main__":
    found = load(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS_DIR)
    print(summary_table(found))
    print()
    print(headlines(found))
