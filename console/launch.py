"""``gateway console``: start Streamlit on the console's entry file with the server options.

The options repeat ``.streamlit/config.toml`` on the command line because an installed
console may start from any directory, where that file would not be found. Only a port and
a bind address are accepted from the caller; the console binds to localhost by default.
``pages_dir`` says where the page scripts are: inside the package when it was installed
from a wheel, in the checkout's top-level ``pages/`` when it runs from the repository.

A console without sign-in makes everyone who reaches it an admin. That is fine for the
demo, but with live providers ``exposure`` keeps it on loopback, whatever address was
asked for, unless ``GATEWAY_CONSOLE_OPEN=true`` says otherwise in so many words.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
APP = PACKAGE / "app.py"


def pages_dir() -> Path:
    """The page scripts: ``console/pages`` in an installed wheel, else ``pages/`` beside ``console/``."""
    shipped = PACKAGE / "pages"
    return shipped if shipped.is_dir() else PACKAGE.parent / "pages"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure(address: str, *, live: bool, sign_in: bool, open_to_all: bool) -> tuple[str, str | None]:
    """The address to bind and, when it is not the one asked for or is risky, a line for stderr."""
    if is_loopback(address) or sign_in or not live:
        return address, None
    if open_to_all:
        return address, f"warning: the console on {address} has no sign-in and live providers: anyone who reaches it is an admin"
    return "127.0.0.1", (
        f"warning: live providers and no console sign-in, so the console listens on 127.0.0.1, not {address}. "
        "Configure sign-in ([auth] in .streamlit/secrets.toml) or set GATEWAY_CONSOLE_OPEN=true to expose it anyway."
    )


def sign_in_configured(paths) -> bool:
    """Whether any of Streamlit's secrets locations holds an ``[auth]`` section."""
    for path in map(Path, paths):
        if path.is_dir() and (path / "auth").is_dir():  # Kubernetes-style secrets directory
            return True
        try:
            if isinstance(tomllib.loads(path.read_text(encoding="utf-8")).get("auth"), dict):
                return True
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # Streamlit reports an unreadable secrets file itself
    return False


def _safe_address(address: str) -> str:
    if is_loopback(address):
        return address  # nothing to check, and a bad setting is left for the page to explain
    from streamlit import config

    from gateway_core.config import Settings

    settings = Settings.from_env()
    live = set(settings.emulated_providers()) != set(settings.enabled_providers())
    sign_in = sign_in_configured(config.get_option("secrets.files"))
    chosen, note = exposure(address, live=live, sign_in=sign_in, open_to_all=settings.console_open)
    if note:
        print(note, file=sys.stderr)
    return chosen


def streamlit_args(argv: list[str] | None = None, *, guard=lambda address: address) -> list[str]:
    """The ``streamlit run`` argument list for ``[--port N] [--address HOST]``; ``guard`` may
    replace the address (``main`` passes the exposure check)."""
    parser = argparse.ArgumentParser(prog="gateway console")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", "--host", dest="address", default="localhost")
    args = parser.parse_args(argv or [])
    return [
        "run",
        str(APP),
        f"--server.port={args.port}",
        f"--server.address={guard(args.address)}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--client.showErrorDetails=none",
        "--client.toolbarMode=minimal",
        "--server.fileWatcherType=none",
        "--theme.base=light",
        "--theme.primaryColor=#2563eb",
    ]


def main(argv: list[str] | None = None) -> int:
    from streamlit.web import cli as stcli

    from console import warmup
    from gateway_core.errors import ConfigError

    try:
        args = streamlit_args(argv, guard=_safe_address)
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    warmup.start()  # imports the first page needs, while the server starts and the browser loads
    try:
        stcli.main(args=args, prog_name="streamlit")
    except SystemExit as e:  # click always ends with SystemExit; hand back its code
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
