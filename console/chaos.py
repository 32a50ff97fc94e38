"""Chaos presets: named fault settings for the loopback emulators, to make failover visible.

Presets are derived, not listed by hand: every running emulator gets the same handful of
faults, named after the providers it serves (display names from the provider registry),
plus one "Clear all". Applying a preset replaces that emulator's faults and leaves the
others alone, so "Azure OpenAI throttled 100%" and "AWS Bedrock 503 30%" can be stacked.
Faults belong to an emulator, so when two providers share one (same wire format) a fault
reaches both, and the name says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.providers import PROVIDERS

CLEAR = "Clear all"
# (name template, icon, fault fields accepted by set_faults)
TEMPLATES = (
    ("{name} throttled 100%", ":material/speed:", {"error_rate": 1.0, "status": 429}),
    ("{name} 503 30%", ":material/cloud_off:", {"error_rate": 0.3, "status": 503}),
    ("{name} streams cut mid-answer", ":material/content_cut:", {"cut_stream_after": 3}),
    ("Slow {name} +2 s", ":material/hourglass_top:", {"extra_latency_ms": 2000}),
    ("{name} content filter", ":material/block:", {"status": 400, "code": "content_filter"}),
)


@dataclass(frozen=True)
class Preset:
    name: str
    icon: str
    faults: dict  # emulator name -> fault fields, or None to clear


def targets(emulators, providers) -> dict[str, str]:
    """Emulator name -> display name, for each running emulator serving one of ``providers``."""
    out: dict[str, list[str]] = {}
    running = emulators.running() if emulators is not None else {}
    for provider in providers:
        cls = PROVIDERS.get(provider)
        if cls is not None and cls.emulator in running:
            out.setdefault(cls.emulator, []).append(cls.label)
    return {emulator: " / ".join(labels) for emulator, labels in out.items()}


def presets(named: dict[str, str]) -> dict[str, Preset]:
    """Every template for every target, then one preset that clears them all."""
    out = {}
    for emulator, display in named.items():
        for template, icon, fields in TEMPLATES:
            name = template.format(name=display)
            out[name] = Preset(name, icon, {emulator: fields})
    out[CLEAR] = Preset(CLEAR, ":material/healing:", {emulator: None for emulator in named})
    return out


def apply_faults(emulators, emulator: str, fields: dict | None) -> bool:
    """Replace one emulator's faults; False when it is not running."""
    emu = emulators.get(emulator) if emulators is not None else None
    if emu is None:
        return False
    emu.clear_faults()
    if fields:
        emu.set_faults(**fields)
    return True


def audit_action(preset: Preset) -> str:
    """How the audit log names applying ``preset``."""
    return "faults.cleared" if all(fields is None for fields in preset.faults.values()) else "faults.injected"


def apply_preset(emulators, preset: Preset) -> list[str]:
    """Apply a preset; returns the emulators it changed."""
    return [e for e, fields in preset.faults.items() if apply_faults(emulators, e, fields)]


def current_faults(emulators, named: dict[str, str]) -> dict[str, dict]:
    """Display name -> the emulator's active fault spec; an empty dict means healthy."""
    return {display: dict(emulators.get(emulator).faults()) for emulator, display in named.items()}


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
