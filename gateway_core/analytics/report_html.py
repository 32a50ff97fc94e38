"""HTML pieces for the evidence pack: escaped text, metric tiles, tables and inline SVG figures."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import pandas as pd

from . import report_charts as charts


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def figure(chart, caption: str = "") -> str:
    """A chart as inline SVG, with an optional caption."""
    body = charts.svg(chart)
    body = body[body.index("<svg") :]  # drop any XML prolog: the SVG sits inside HTML
    cap = f"<figcaption class='note'>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{body}{cap}</figure>"


def metrics(items: Sequence[tuple[str, str]]) -> str:
    return (
        "<div class='metrics'>"
        + "".join(f"<div class='metric'><b>{esc(v)}</b><span>{esc(k)}</span></div>" for k, v in items)
        + "</div>"
    )


def header(column: str) -> str:
    words = column.replace("_usd", "").replace("_pct", " %").replace("_ms", "").replace("_", " ")
    return words.replace("replay ", "what-if ")


def table(frame: pd.DataFrame, columns: dict[str, Callable | None], flag: str | None = None) -> str:
    """``columns``: column -> formatter (None: as is). Rows where ``flag`` is true are marked.
    Headers are the column names in words (``cost_gap_pct`` -> "cost gap %")."""
    if frame.empty:
        return "<p class='note'>Nothing to show for this period.</p>"
    head = "".join(f"<th>{esc(header(c))}</th>" for c in columns)
    rows = []
    for r in frame.to_dict("records"):
        cls = " class='flag'" if flag and r.get(flag) else ""
        cells = "".join(f"<td>{esc(fmt(r[c]) if fmt else r[c])}</td>" for c, fmt in columns.items())
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
