"""The evidence pack: one self-contained HTML file for stakeholders, built from the analytics queries.

``build_report`` runs each section in ``SECTIONS`` over a ``ReportContext`` (the analytics
handle, the price table, the period) and lays the results out as one HTML document with
inline CSS and charts embedded as SVG (``report_charts.svg``, rendered offline), so the file
needs no network, script or stylesheet to open. Sections are plain functions returning a
heading and an HTML body; ``extra_sections`` adds more before the notes on method, which is
where the admin audit log's section plugs in. All text from the log is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .filters import Filters
from .report_html import esc
from .report_sections import (
    ab_results,
    bill_state,
    headline,
    method_notes,
    reliability,
    replay_highlights,
    saved_vs_overspent,
    spend_and_trend,
    spend_per_team,
)


@dataclass
class ReportContext:
    analytics: object  # an ``Analytics``
    prices: object  # the ``PriceTable`` costs are read against
    filters: Filters
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    threshold_pct: float = 5.0
    min_votes: int = 30
    notes: list[str] = field(default_factory=list)  # sections add caveats the method notes repeat


Section = Callable[[ReportContext], tuple[str, str]]

# In reading order. A section that belongs in every pack joins this tuple; one that is
# optional (the admin audit log) is passed as ``extra_sections``.
SECTIONS: tuple[Section, ...] = (
    headline,
    spend_and_trend,
    saved_vs_overspent,
    spend_per_team,
    reliability,
    ab_results,
    replay_highlights,
    bill_state,
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#0f172a;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #e2e8f0;padding-bottom:.3rem;margin-top:2.4rem}
.sub{color:#475569}.metrics{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.metric{border:1px solid #e2e8f0;border-radius:8px;padding:.6rem .9rem;min-width:9rem}
.metric b{display:block;font-size:1.25rem}.metric span{color:#475569;font-size:.85rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.88rem}th,td{padding:.3rem .6rem;border-bottom:1px solid #e2e8f0;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f8fafc}.flag{color:#b91c1c;font-weight:600}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}.note{color:#475569;font-size:.9rem}
nav a{margin-right:.8rem}
"""


def build_report(
    ctx: ReportContext, extra_sections: Sequence[Section] = (), title: str = "GenAI Cloud Gateway: cost evidence pack"
) -> str:
    """The whole pack as one HTML string."""
    parts = []
    for section in (*SECTIONS, *extra_sections, method_notes):
        heading, body = section(ctx)
        anchor = "s" + str(len(parts) + 1)
        parts.append((anchor, heading, body))
    start, end = ctx.filters.bounds()
    period = f"{start:%Y-%m-%d} to {(end or ctx.now):%Y-%m-%d}"
    nav = "".join(f"<a href='#{a}'>{esc(h)}</a>" for a, h, _ in parts)
    sections = "".join(f"<section id='{a}'><h2>{esc(h)}</h2>{b}</section>" for a, h, b in parts)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='sub'>Period {esc(period)} (UTC) · generated {ctx.now:%Y-%m-%d %H:%M} UTC · "
        f"price table {esc(getattr(ctx.prices, 'version', ''))}</p><nav>{nav}</nav>{sections}</body></html>"
    )
