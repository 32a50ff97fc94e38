"""Runs inside the clean virtualenv, not under pytest: renders the installed console and
every page it ships with Streamlit's AppTest, then prints one JSON report on stdout.

It imports nothing from the checkout; the test that starts it checks that ``console`` came
from the virtualenv's site-packages.
"""

import json
import sys

from streamlit.testing.v1 import AppTest

from console import launch


def _view(at: AppTest) -> dict:
    return {
        "titles": [t.value for t in at.title],
        "exceptions": [str(e.value) for e in at.exception],
        "errors": [str(e.value) for e in at.error],
    }


def main() -> int:
    pages = launch.pages_dir()
    report = {"console": launch.__file__, "pages_dir": str(pages), "views": {}}
    at = AppTest.from_file(str(launch.APP), default_timeout=90)
    at.run()
    report["views"]["(start)"] = _view(at)
    for script in sorted(pages.glob("*.py")):
        at.switch_page(f"{pages.name}/{script.name}").run()
        report["views"][script.stem] = _view(at)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
