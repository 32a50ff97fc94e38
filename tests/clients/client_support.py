"""Helpers for the client tests: where the clients live, a proxy-free environment for them, and
reading what they print (one section per call, headed ``== METHOD /path``, then ``key: value``
lines: answer, provider, model, tokens, cost_usd, request_id, ...)."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

CLIENTS = Path(__file__).resolve().parents[2] / "clients"

TOKENS = re.compile(r"(\d+) in, (\d+) out, (\d+) total \((\w+)\)")
PROVIDERS = {"azure", "bedrock"}


def client_env() -> dict[str, str]:
    """The test's environment without proxy settings: clients talk to loopback directly."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def sections(stdout: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in stdout.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:].strip(), {})
        elif current is not None and ": " in line and " " not in line.split(": ", 1)[0]:
            key, value = line.split(": ", 1)
            current.setdefault(key, value)
        elif current is not None and "answer" in current and len(current) == 1:
            current["answer"] += "\n" + line  # an answer runs over several lines
    return found


def check_summary(section: dict[str, str], logged) -> None:
    """A printed summary is complete, consistent, and matches the gateway's usage-log row."""
    assert section["provider"] in PROVIDERS and section["model"]
    tin, tout, total, source = TOKENS.fullmatch(section["tokens"]).groups()
    assert int(tin) > 0 and int(tout) > 0 and int(tin) + int(tout) == int(total) and source == "provider"
    cost = Decimal(section["cost_usd"])
    assert cost > 0
    row = logged[section["request_id"]]
    assert (row["provider"], row["model"]) == (section["provider"], section["model"])
    assert (row["input_tokens"], row["output_tokens"]) == (int(tin), int(tout))
    assert abs(Decimal(str(row["cost_usd"])) - cost) < Decimal("1e-9")
