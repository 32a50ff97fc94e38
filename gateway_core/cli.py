"""The ``gateway`` command: one sub-command per job, each importing only what it needs.

Settings are read once here, at the edge, and handed to whatever the command starts.
Errors the user can fix (bad input, missing configuration) print one line and exit 2;
a failed provider call exits 1. Nothing prints a traceback or a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from .errors import AllProvidersFailed, ConfigError, GatewayError, ValidationError
from .providers import PROVIDER_NAMES
from .serialize import result_to_dict
from .tasks import TASKS
from .types import PRIORITIES


def _emulators(args: argparse.Namespace) -> int:
    from .emulators.__main__ import serve_forever

    return serve_forever(args.azure_port, args.bedrock_port, args.profile, args.host, azure_key=args.azure_key)


def _fmt_cost(value) -> str:
    return "unpriced" if value is None else f"${value:.6f}"


def _print_result(r) -> None:
    print(r.text)
    print()
    print(f"provider : {r.provider} / {r.model}" + ("   (fallback)" if r.fallback_used else ""))
    print(f"route    : {r.route_reason}")
    est = r.estimated_usage
    est_txt = f"{est.input_tokens}+{est.output_tokens} est ({est.source}), " if est else ""
    print(f"tokens   : {est_txt}{r.usage.input_tokens}+{r.usage.output_tokens} actual")
    print(
        f"cost     : {_fmt_cost(r.cost_usd)} (estimated {_fmt_cost(r.estimated_cost_usd)}; "
        f"on {r.counterfactual_provider or 'the other provider'}: {_fmt_cost(r.counterfactual_cost_usd)})"
    )
    ttft = f", ttft {r.ttft_ms:.0f} ms" if r.ttft_ms is not None else ""
    print(f"latency  : {r.latency_ms:.0f} ms{ttft}")
    for i, a in enumerate(r.attempts, 1):
        why = f" - {a.error_type}: {a.error_message}" if a.status != "ok" else ""
        print(f"attempt {i}: {a.provider}/{a.model} {a.status} {a.latency_ms:.0f} ms{why}")
    if r.key_name is not None:
        print(f"key      : {r.key_name} (team {r.team})")
    for name, value in r.headers.items():
        print(f"limits   : {name}: {value}")
    print(f"request  : {r.request_id}")


def _generate(args: argparse.Namespace) -> int:
    from .gateway import Gateway
    from .types import GenerateRequest

    req = GenerateRequest(
        prompt=args.prompt,
        task=args.task,
        priority=args.priority,
        provider_hint=args.provider,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        user=args.user,
    )
    with Gateway.from_env() as gw:
        if args.stream:
            stream = gw.stream(req, key=args.key, source="cli")
            for chunk in stream:
                if not args.json:
                    print(chunk, end="", flush=True)
            result = stream.result
            if not args.json:
                print("\n")
        else:
            result = gw.generate(req, key=args.key, source="cli")
        if args.json:
            print(json.dumps(result_to_dict(result), indent=2))
        elif args.stream:
            _print_result(replace(result, text="(streamed above)"))
        else:
            _print_result(result)
    return 0


def _smoke(args: argparse.Namespace) -> int:
    """One tiny request per configured (provider, model), no fallback: a health line each."""
    from .gateway import Gateway
    from .types import GenerateRequest

    failures = 0
    with Gateway.from_env() as gw:
        modes = gw.provider_modes()
        for provider, model in gw.candidates():
            req = GenerateRequest(
                prompt="Reply with one word: ok", provider_hint=provider, model=model, fallback=False, max_tokens=16
            )
            try:
                r = gw.generate(req)
                print(f"OK    {provider:8} {model:45} {modes[provider]:8} {r.latency_ms:7.0f} ms  {_fmt_cost(r.cost_usd)}")
            except GatewayError as e:
                failures += 1
                print(f"FAIL  {provider:8} {model:45} {modes[provider]:8} {e.type_name}: {gw.scrub(e.message)}")
    return 1 if failures else 0


def _console(args: argparse.Namespace) -> int:
    from console.launch import main as launch

    from .config import Settings
    from .usage.configure import check_log_storage

    check_log_storage(Settings.from_env())  # a bad log path is one line here, not a page later

    return launch(["--port", str(args.port), "--address", args.host])


def _serve(args: argparse.Namespace) -> int:
    from .api import serve

    return serve(host=args.host, port=args.port, workers=args.workers, access_log=args.access_log)


def _seed_demo(args: argparse.Namespace) -> int:
    from .config import Settings
    from .db import describe
    from .governance.audit_log import AuditLog, shell_actor
    from .pricing import PriceTable
    from .usage.configure import check_log_storage
    from .usage.demo_history import purge_synthetic, seed_demo

    settings = Settings.from_env()
    check_log_storage(settings)
    audit = AuditLog(settings.database(), source="cli")
    if args.purge:
        n = purge_synthetic(settings.database())
        audit.record(shell_actor(), "data.purged", "synthetic rows", {"rows": n})
        print(f"removed {n} synthetic rows from {describe(settings.database())}")
        return 0
    n = seed_demo(settings.database(), days=args.days, requests=args.requests, price_table=PriceTable.load(settings.prices_file))
    audit.record(shell_actor(), "demo.loaded", "synthetic rows", {"rows": n, "requests": args.requests, "days": args.days})
    print(f"wrote {n} synthetic rows ({args.requests} requests over {args.days} days) to {describe(settings.database())}")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="GenAI Cloud Gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    emu = sub.add_parser("emulators", help="serve the Azure OpenAI and Bedrock emulators on loopback")
    emu.add_argument("--azure-port", type=int, default=8081)
    emu.add_argument("--bedrock-port", type=int, default=8082)
    emu.add_argument("--profile", choices=("demo", "zero"), default="demo")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--azure-key", default=None, help="require this api-key (default: any non-empty key)")
    emu.set_defaults(func=_emulators)

    gen = sub.add_parser("generate", help="send one prompt through the gateway")
    gen.add_argument("prompt")
    gen.add_argument("--task", choices=tuple(TASKS), default="chat")
    gen.add_argument("--priority", choices=PRIORITIES, default="balanced")
    gen.add_argument("--provider", choices=PROVIDER_NAMES, default=None, help="provider hint (others stay as fallback)")
    gen.add_argument("--max-tokens", type=int, default=None)
    gen.add_argument("--temperature", type=float, default=None)
    gen.add_argument("--user", default=None)
    gen.add_argument("--key", default=None, metavar="NAME", help="run as this API key (its limits apply); default: no key")
    gen.add_argument("--json", action="store_true", help="print the full result as JSON")
    gen.add_argument("--stream", action="store_true", help="stream the answer as it arrives")
    gen.set_defaults(func=_generate)

    smoke = sub.add_parser("smoke", help="check every configured provider with a tiny request")
    smoke.set_defaults(func=_smoke)

    con = sub.add_parser("console", help="start the Streamlit operator console")
    con.add_argument("--port", type=int, default=8501)
    con.add_argument("--host", default="localhost")
    con.set_defaults(func=_console)

    srv = sub.add_parser("serve", help="serve the REST API (FastAPI + uvicorn)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument("--access-log", action="store_true", help="log a line per request")
    srv.set_defaults(func=_serve)

    seed = sub.add_parser("seed-demo", help="write synthetic history into the usage log")
    seed.add_argument("--days", type=int, default=30)
    seed.add_argument("--requests", type=int, default=100_000)
    seed.add_argument("--purge", action="store_true", help="remove synthetic rows instead")
    seed.set_defaults(func=_seed_demo)

    from .governance.cli import add_commands as add_governance_commands
    from .governance.policy_cli import add_commands as add_policy_commands

    add_governance_commands(sub)
    add_policy_commands(sub)
    from .analytics.cli import add_commands as add_cost_commands

    add_cost_commands(sub)
    from .db.cli import add_commands as add_db_commands

    add_db_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValidationError, ConfigError) as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except AllProvidersFailed as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except GatewayError as e:
        print(f"error: {e.type_name}: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
