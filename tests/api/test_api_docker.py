"""The container's pieces that can be checked without a Docker engine: the health probe
against a live server, and the image recipe's promises (non-root, log volume, no secrets)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "docker" / "healthcheck.py"


def _probe(url: str) -> int:
    unreachable_proxy = "http://192.0.2.1:9"
    env = {**os.environ, "GATEWAY_HEALTH_URL": url, "http_proxy": unreachable_proxy, "HTTP_PROXY": unreachable_proxy}
    return subprocess.run([sys.executable, str(PROBE)], env=env, timeout=30).returncode


def test_health_probe_passes_on_a_live_api_even_with_a_proxy_configured(server):
    assert _probe(server.url + "/healthz") == 0


def test_health_probe_fails_when_nothing_listens_or_the_route_is_wrong(server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert _probe(f"http://127.0.0.1:{closed}/healthz") == 1
    assert _probe(server.url + "/no-such-route") == 1


def test_image_runs_as_non_root_with_the_log_on_a_volume_and_no_secrets():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "GATEWAY_DB_PATH=/data/usage_logs.sqlite" in text and re.search(r'^VOLUME\s+\["?/data', text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*healthcheck\.py", text, re.M)
    assert not re.search(r"^(ENV|ARG)\b.*(API_KEY|SECRET|ACCESS_KEY|GATEWAY_API_KEYS)", text, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "*.sqlite", ".venv"} <= set(ignored)
