"""Standalone emulators: ``python -m gateway_core.emulators`` or ``gateway emulators``.

Serves both emulators until Ctrl-C (or SIGTERM), after printing their URLs and the
environment a live-mode configuration would use to point the gateway at them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import start_emulators
from .latency import PROFILES


def _banner(azure_url: str, bedrock_url: str, profile: str, keyed: bool) -> str:
    key = "<the --azure-key value>" if keyed else "emulator   # any non-empty value"
    return "\n".join(
        (
            f"Azure OpenAI emulator: {azure_url}",
            f"Bedrock emulator:      {bedrock_url}",
            f"Latency profile:       {profile}",
            "",
            "Point a live-mode gateway at them with:",
            "GATEWAY_MODE=live",
            f"AZURE_OPENAI_ENDPOINT={azure_url}",
            f"AZURE_OPENAI_API_KEY={key}",
            f"BEDROCK_ENDPOINT_URL={bedrock_url}",
            "AWS_ACCESS_KEY_ID=test",
            "AWS_SECRET_ACCESS_KEY=test",
            "AWS_REGION=us-east-1",
            "",
            "Faults: POST <url>/_emulator/faults; stats: GET <url>/_emulator/stats. Ctrl-C stops.",
        )
    )


def serve_forever(azure_port: int, bedrock_port: int, profile: str, host: str = "127.0.0.1", azure_key: str | None = None) -> int:
    """Run both emulators until interrupted; returns the process exit code."""
    try:
        emulators = start_emulators(
            profile=profile, host=host, azure_port=azure_port, bedrock_port=bedrock_port, azure_api_key=azure_key
        )
    except OSError as exc:
        print(f"cannot start the emulators on {host}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        # Handle both explicitly: a shell may start a background job with SIGINT ignored.
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        print(_banner(emulators.azure.url, emulators.bedrock.url, profile, azure_key is not None), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulators.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("emulators stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_core.emulators", description="Serve the Azure OpenAI and Bedrock emulators on loopback."
    )
    parser.add_argument("--azure-port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--bedrock-port", type=int, default=8082, help="0 picks a free port")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--azure-key", default=None, help="require this api-key (default: accept any non-empty key)")
    args = parser.parse_args(argv)
    return serve_forever(args.azure_port, args.bedrock_port, args.profile, args.host, args.azure_key)


if __name__ == "__main__":
    sys.exit(main())
