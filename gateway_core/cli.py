"""The ``gateway`` command: one sub-command per job, each importing only what it needs."""

from __future__ import annotations

import argparse
import sys


def _emulators(args: argparse.Namespace) -> int:
    from .emulators.__main__ import serve_forever

    return serve_forever(args.azure_port, args.bedrock_port, args.profile, args.host)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="GenAI Cloud Gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    emu = sub.add_parser("emulators", help="serve the Azure OpenAI and Bedrock emulators on loopback")
    emu.add_argument("--azure-port", type=int, default=8081)
    emu.add_argument("--bedrock-port", type=int, default=8082)
    emu.add_argument("--profile", choices=("demo", "zero"), default="demo")
    emu.add_argument("--host", default="127.0.0.1")
    emu.set_defaults(func=_emulators)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
