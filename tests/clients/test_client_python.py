"""The Python example in clients/python, run as a user would run it, against ``gateway serve``."""

from __future__ import annotations

import subprocess
import sys

from client_support import CLIENTS, check_summary, client_env, sections

EXAMPLE = CLIENTS / "python" / "gateway_client.py"


def _run(gateway, *args, key=None):
    cmd = [sys.executable, str(EXAMPLE), "--url", gateway.url, "--key", gateway.key if key is None else key, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=client_env())


def test_example_generates_streams_and_chats_printing_what_the_gateway_logged(gateway):
    done = _run(gateway, "all", "How do retries interact with a queue?")
    assert done.returncode == 0, done.stderr
    found = sections(done.stdout)
    assert list(found) == ["POST /generate", "POST /generate (stream)", "POST /v1/chat/completions"]
    logged = gateway.logged({s["request_id"] for s in found.values()})
    for section in found.values():
        check_summary(section, logged)


def test_example_reports_a_wrong_key_and_a_bad_request_as_typed_errors(gateway):
    done = _run(gateway, "generate", "Hello", key="not-the-key")
    assert done.returncode == 1
    assert "error: AuthError (HTTP 401) kind=authentication_error" in done.stderr
    done = _run(gateway, "chat", "Hello", key="not-the-key")
    assert done.returncode == 1 and "AuthenticationError (HTTP 401)" in done.stderr
