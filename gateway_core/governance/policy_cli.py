"""``gateway policy check FILE`` and ``gateway policy test FILE --input input.json``.

``check`` reads, checks and compiles a policy file or directory, as start-up does, and
exits 2 with ``file:line: reason`` if it would not load. ``test`` evaluates the policy once
on an ``input`` document (the contract in ``governance.policy``), prints the decision and
what it does to the input's candidates as JSON, and exits 1 if the evaluation failed.
Bad arguments print one line and exit 2. Nothing here imports regopy until a command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


class _BadInput(Exception):
    pass


def add_commands(subparsers) -> None:
    """Add ``policy check`` and ``policy test`` to the ``gateway`` command's sub-parsers."""
    policy = subparsers.add_parser("policy", help="check a routing policy, or try it on one input")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="parse and compile a .rego file or a directory of them")
    check.add_argument("file", help="a .rego file or a directory")
    check.set_defaults(func=_check)
    test = sub.add_parser("test", help="print the decision a policy makes for one input document")
    test.add_argument("file", help="a .rego file or a directory")
    test.add_argument("--input", required=True, dest="input_file", help="JSON file holding the policy's input")
    test.set_defaults(func=_test)


def _load(path: str):
    from .policy import PolicyError
    from .policy_rego import RegoPolicy

    try:
        return RegoPolicy(path, check_interval_s=math.inf)
    except PolicyError as e:
        print(f"{e.location}: {e.reason}", file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    engine = _load(args.file)
    if engine is None:
        return 2
    files = len(engine.sources)
    reads = ", ".join(engine.input_fields) or "nothing from input"
    print(f"ok: {files} file{'s' if files != 1 else ''}, version {engine.version}; reads {reads}")
    return 0


def _read_input(name: str) -> dict:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _BadInput(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _BadInput(f"{name}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
    try:
        return parse_input(text, name)
    except ValueError as e:
        raise _BadInput(str(e)) from None


def parse_input(text: str, name: str = "input") -> dict:
    """A policy ``input`` document from JSON text, checked enough to dry-run (``ValueError``
    names what is wrong); the command's ``--input`` file and the console's dry run read it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected a JSON object (the policy's input), got {type(value).__name__}")
    candidates = value.get("candidates", [])
    if not isinstance(candidates, list):
        raise ValueError(f"{name}: candidates must be a list")
    for i, c in enumerate(candidates):
        if not (isinstance(c, dict) and isinstance(c.get("provider"), str) and isinstance(c.get("model"), str)):
            raise ValueError(f"{name}: candidates[{i}] needs string provider and model fields")
    return value


def _test(args: argparse.Namespace) -> int:
    from .policy import dry_run

    try:
        policy_input = _read_input(args.input_file)
    except _BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    engine = _load(args.file)
    if engine is None:
        return 2
    decision = engine.evaluate(policy_input)
    report = {"decision": decision.to_dict(), "outcome": dry_run(decision, policy_input.get("candidates", []))}
    print(json.dumps(report, indent=2))
    return 1 if decision.error else 0
