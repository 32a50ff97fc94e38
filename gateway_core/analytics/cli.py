"""``gateway replay``, ``gateway bill ...`` and ``gateway report``: cost intelligence from a shell.

``add_commands(subparsers)`` attaches them to the ``gateway`` command. Each reads the
settings once, opens the usage log read-only through ``Analytics`` (bill imports write
their own two tables) and prints either a short text report or, with ``--json``, the
whole result. Bad input prints one line naming the flag or the file's row and column and
exits 2, like the rest of the ``gateway`` command.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, date, datetime, timedelta

from ..errors import ValidationError
from ..types import PRIORITIES

_SPAN = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def since(text: str) -> datetime:
    """``30d``, ``12h``, ``2w`` before now, or a date like ``2026-11-01`` (UTC)."""
    value = text.strip().lower()
    if m := _SPAN.match(value):
        n, unit = int(m.group(1)), m.group(2)
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: n})
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a span like 30d, 12h, 2w or a date like 2026-11-01; got {text[:40]!r}"
        ) from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _scale(text: str) -> tuple[str, float]:
    target, sep, factor = text.partition("=")
    try:
        return target.strip(), float(factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TARGET=FACTOR such as bedrock=0.8; got {text[:40]!r}") from None


def _names(values) -> tuple[str, ...]:
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def _context():
    from ..config import Settings
    from ..pricing import PriceTable
    from .queries import Analytics

    settings = Settings.from_env()
    return settings, PriceTable.load(settings.prices_file), Analytics(settings.database(), max_staleness_s=0.0)


# --- replay ----------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from ..pricing import PriceTable
    from .filters import Filters
    from .replay import Scenario

    scenario = Scenario(
        priority=args.priority,
        prices=PriceTable.load(args.prices) if args.prices else None,
        exclude=_names(args.exclude),
        providers=_names(args.providers),
        price_scale=tuple(args.scale_prices or ()),
    )
    _settings, prices, an = _context()
    try:
        result = an.replay(scenario, prices, Filters(start=args.since))
    finally:
        an.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    print(replay_text(result))
    return 0


def _money(v) -> str:
    return "unpriced" if v is None or v != v else f"${v:,.2f}"


def _ms(v) -> str:
    return "-" if v is None or v != v else f"{v:,.0f} ms"


def _delta_ms(v) -> str:
    return "-" if v is None or v != v else f"{v:+,.0f} ms"


def replay_text(result) -> str:
    t = result.totals
    lines = [
        f"What if: {result.scenario}",
        f"requests   {t.get('requests', 0):,}   moved {100 * (t.get('moved_share') or 0):.1f}%",
        f"spend      {_money(t.get('spend_usd'))} -> {_money(t.get('replay_spend_usd'))}   "
        f"saving {_money(t.get('saving_usd'))} ({(t.get('saving_pct') or 0):+.1f}%)",
        f"latency    p50 {_ms(t.get('p50_ms'))} -> {_ms(t.get('replay_p50_ms'))}   "
        f"p90 {_ms(t.get('p90_ms'))} -> {_ms(t.get('replay_p90_ms'))}",
    ]
    for name, frame in (("task", result.by_task), ("team", result.by_team)):
        lines += ["", f"by {name}:"]
        for r in frame.to_dict("records"):
            lines.append(
                f"  {str(r[name]):14} {r['requests']:>9,}  moved {100 * r['moved_share']:5.1f}%  "
                f"{_money(r['spend_usd']):>12} -> {_money(r['replay_spend_usd']):>12}  "
                f"p50 {_delta_ms(r['p50_change_ms'])}, p90 {_delta_ms(r['p90_change_ms'])}"
            )
    if len(result.moves):
        lines += ["", "largest moves:"]
        for r in result.moves.head(8).to_dict("records"):
            lines.append(f"  {r['requests']:>9,}  {r['before']} -> {r['after']}")
    lines += [""] + [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


# --- bills -----------------------------------------------------------------------------------


def _bill_import(args: argparse.Namespace) -> int:
    from .billing import MeterTable, import_bill

    settings, prices, an = _context()
    try:
        meters = MeterTable.load(args.meters or settings.bill_meters_file)
        r = import_bill(settings.database(), args.file, meters)
        print(
            f"import #{r.import_id}: {r.format}, {r.rows:,} rows, {r.first_day} to {r.last_day}, mapped ${r.mapped_cost_usd:,.2f}"
        )
        for note in r.notes:
            print(note)
        if r.out_of_scope_rows:
            print(f"not AI token usage: {r.out_of_scope_rows:,} rows, ${r.out_of_scope_cost_usd:,.2f} (counted, not compared)")
        for u in r.unknown.to_dict("records"):
            print(f"unknown meter: {u['meter']!r}: {u['rows']:,} rows, ${u['cost_usd']:,.2f} (add a [[meters]] row to map it)")
        print(bill_status_text(an.bill_reconciliation(prices, args.threshold), args.threshold))
    finally:
        an.close()
    return 0


def _bill_status(args: argparse.Namespace) -> int:
    _settings, prices, an = _context()
    try:
        rec = an.bill_reconciliation(prices, args.threshold)
    finally:
        an.close()
    if args.json:
        print(json.dumps({k: v.to_dict("records") for k, v in rec.items()}, indent=2, default=str))
    else:
        print(bill_status_text(rec, args.threshold))
    return 0


def bill_status_text(rec: dict, threshold: float) -> str:
    models = rec["models"]
    if models.empty:
        return "no bill imported yet: gateway bill import FILE"
    lines = ["", f"bill vs log per model (flagged beyond {threshold:g}%):"]
    for r in models.to_dict("records"):
        mark = "GAP" if r["flagged"] else "ok "
        lines.append(
            f"  {mark} {r['provider']}/{r['model']}: tokens {r['token_gap_pct']:+.1f}%, "
            f"dollars {_money(r['bill_cost_usd'])} vs {_money(r['log_cost_usd'])} ({r['cost_gap_pct']:+.1f}%), "
            f"{r['flagged_days']} of {r['days']} days flagged"
        )
    return "\n".join(lines)


# --- the evidence pack -----------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .filters import Filters
    from .report import ReportContext, build_report
    from .report_audit import audit_section

    out = Path(args.out)
    if not out.parent.is_dir():  # refuse before the seconds spent building
        raise ValidationError("out", f"cannot write {out}: no directory {out.parent}")
    _settings, prices, an = _context()
    try:
        ctx = ReportContext(an, prices, Filters(start=args.since), threshold_pct=args.threshold)
        html = build_report(ctx, extra_sections=(audit_section,))
    finally:
        an.close()
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as e:
        raise ValidationError("out", f"cannot write {out}: {e.strerror}") from None
    print(f"wrote {out} ({len(html) / 1024:,.0f} KiB): open it in any browser, offline")
    return 0


def add_commands(sub) -> None:
    rp = sub.add_parser("replay", help="what-if: re-rank logged requests under another priority, prices or providers")
    rp.add_argument("--since", type=since, default=since("30d"), help="30d, 12h, 2w or a date (default 30d)")
    rp.add_argument("--priority", choices=PRIORITIES, default=None, help="default: each request's own")
    rp.add_argument("--prices", metavar="FILE", help="a price TOML whose rows replace or extend the packaged table")
    rp.add_argument("--scale-prices", metavar="TARGET=FACTOR", type=_scale, action="append", help="e.g. bedrock=0.8")
    rp.add_argument("--exclude", action="append", metavar="NAME", help="provider, provider/model or model (repeatable)")
    rp.add_argument("--providers", action="append", metavar="NAMES", help="only these providers (comma-separated)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=_replay)

    bill = sub.add_parser("bill", help="import a cloud cost export and compare it with the log")
    bill_sub = bill.add_subparsers(dest="bill_command", required=True)
    imp = bill_sub.add_parser("import", help="import an Azure cost-details CSV or an AWS CUR (CSV or Parquet)")
    imp.add_argument("file")
    imp.add_argument("--meters", metavar="FILE", help="your meter table, tried before the packaged one")
    imp.add_argument("--threshold", type=float, default=5.0, help="flag gaps beyond this percentage (default 5)")
    imp.set_defaults(func=_bill_import)
    st = bill_sub.add_parser("status", help="the imported bills against the log, per model")
    st.add_argument("--threshold", type=float, default=5.0)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_bill_status)

    rep = sub.add_parser("report", help="write the evidence pack: one self-contained HTML file for stakeholders")
    rep.add_argument("--since", type=since, default=since("30d"), help="30d, 12h, 2w or a date (default 30d)")
    rep.add_argument("--out", default="report.html", help="where to write it (default report.html)")
    rep.add_argument("--threshold", type=float, default=5.0, help="bill gap threshold in percent (default 5)")
    rep.set_defaults(func=_report)
