"""Container health probe: GET ``GATEWAY_HEALTH_URL`` and exit 0 on HTTP 200, 1 otherwise.

The slim base image has no curl, so the Dockerfile's HEALTHCHECK runs this with the
image's own Python. The default URL is the console's health endpoint; a container that
runs ``gateway serve`` sets ``GATEWAY_HEALTH_URL=http://127.0.0.1:8000/readyz``: readiness,
not liveness, because an API whose usage log cannot write (or whose providers are all
cut off) should be taken out of rotation, and Docker has only the one health check.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8501/_stcore/health"


def main() -> int:
    url = os.environ.get("GATEWAY_HEALTH_URL") or DEFAULT_URL
    # An empty ProxyHandler: a proxy set in the environment must not intercept a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return 1


if __name__ == "__main__":
    sys.exit(main())
