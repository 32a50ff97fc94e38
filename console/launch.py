"""``gateway console``: start Streamlit on the console's entry file with the server options.

The options repeat ``.streamlit/config.toml`` on the command line because an installed
console may start from any directory, where that file would not be found. Only a port and
a bind address are accepted from the caller; the console binds to localhost by default.
``pages_dir`` says where the page scripts are: inside the package when it was installed
from a wheel, in the checkout's top-level ``pages/`` when it runs from the repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
APP = PACKAGE / "app.py"


def pages_dir() -> Path:
    """The page scripts: ``console/pages`` in an installed wheel, else ``pages/`` beside ``console/``."""
    shipped = PACKAGE / "pages"
    return shipped if shipped.is_dir() else PACKAGE.parent / "pages"


def streamlit_args(argv: list[str] | None = None) -> list[str]:
    """The ``streamlit run`` argument list for ``[--port N] [--address HOST]``."""
    parser = argparse.ArgumentParser(prog="gateway console")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", "--host", dest="address", default="localhost")
    args = parser.parse_args(argv or [])
    return [
        "run",
        str(APP),
        f"--server.port={args.port}",
        f"--server.address={args.address}",
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

    args = streamlit_args(argv)
    try:
        stcli.main(args=args, prog_name="streamlit")
    except SystemExit as e:  # click always ends with SystemExit; hand back its code
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
