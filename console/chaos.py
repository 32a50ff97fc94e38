"""Chaos presets: named fault settings for the loopback emulators, to make failover visible.

A preset maps each provider it touches to the fault fields ``set_faults`` accepts (``None``
clears that provider). Applying a preset replaces the touched providers' faults and leaves
the others alone, so "Azure throttled" and "Bedrock 503 30%" can be stacked.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, dict | None]] = {
    "Azure throttled 100%": {"azure": {"error_rate": 1.0, "status": 429}},
    "Bedrock 503 30%": {"bedrock": {"error_rate": 0.3, "status": 503}},
    "Azure streams cut mid-answer": {"azure": {"cut_stream_after": 3}},
    "Slow Azure +2 s": {"azure": {"extra_latency_ms": 2000}},
    "Bedrock content filter": {"bedrock": {"status": 400, "code": "content_filter"}},
    "Clear all": {"azure": None, "bedrock": None},
}

PRESET_ICONS = {
    "Azure throttled 100%": ":material/speed:",
    "Bedrock 503 30%": ":material/cloud_off:",
    "Azure streams cut mid-answer": ":material/content_cut:",
    "Slow Azure +2 s": ":material/hourglass_top:",
    "Bedrock content filter": ":material/block:",
    "Clear all": ":material/healing:",
}


def emulator_for(emulators, provider: str):
    """The emulator handle of one provider, or None when that provider is live."""
    return getattr(emulators, provider, None) if emulators is not None else None


def apply_faults(emulators, provider: str, fields: dict | None) -> bool:
    """Replace one provider's faults; False when that provider is not emulated."""
    emu = emulator_for(emulators, provider)
    if emu is None:
        return False
    emu.clear_faults()
    if fields:
        emu.set_faults(**fields)
    return True


def apply_preset(emulators, name: str) -> list[str]:
    """Apply a named preset; returns the providers it changed."""
    return [p for p, fields in PRESETS[name].items() if apply_faults(emulators, p, fields)]


def current_faults(emulators) -> dict[str, dict]:
    """Each emulated provider's active fault spec; an empty dict means healthy."""
    out = {}
    for provider in ("azure", "bedrock"):
        emu = emulator_for(emulators, provider)
        if emu is not None:
            out[provider] = dict(emu.faults())
    return out


def describe(faults: dict) -> str:
    """A fault specification as a sentence for the chaos panel, e.g. "429 on 100% of calls"."""
    parts = []
    rate = faults.get("error_rate", 1.0)
    if faults.get("status"):
        code = f" {faults['code']}" if faults.get("code") else ""
        parts.append(f"HTTP {faults['status']}{code} on {rate:.0%} of calls")
    if faults.get("hang_s"):
        parts.append(f"hangs {faults['hang_s']} s on {rate:.0%} of calls")
    if faults.get("cut_stream_after") is not None:
        parts.append(f"streams cut after {faults['cut_stream_after']} chunks on {rate:.0%} of calls")
    if faults.get("extra_latency_ms"):
        parts.append(f"+{faults['extra_latency_ms']} ms on every call")
    if faults.get("mix"):
        parts.append(f"a mix of {len(faults['mix'])} faults on {rate:.0%} of calls")
    return "; ".join(parts) or "faults set"
