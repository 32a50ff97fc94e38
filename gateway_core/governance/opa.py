"""Routing policy evaluated by an external OPA server, through OPA's REST Data API.

For organisations that already run OPA: each decision is one ``POST
/v1/data/gateway/routing`` with ``{"input": ...}``, answered by ``{"result": {...}}`` (the
package document, read exactly as the in-process engine reads it). The policy version is
the revision of the bundles OPA reports under ``?provenance=true``, or ``opa`` when it
reports none. Connections are kept alive, one per thread; a kept-alive connection the
server has closed is reopened once. A timeout, an unreachable server, an error status,
a missing document or a reply off the contract is an evaluation error: fail closed
(refuse, log) unless fail-open is configured. Decisions are not cached, because the
policy lives on the server and may change at any moment.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import ConfigError
from .policy import PACKAGE, PolicyContractError, PolicyDecision, decision_from_document, failed_decision

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest)


class OpaUnavailable(Exception):
    """OPA could not give an answer: timeout, connection or HTTP error."""


class OpaPolicy:
    """The ``PolicyEngine`` for a policy served by OPA at ``url`` (``http://host:8181``)."""

    def __init__(self, url: str, *, fail_open: bool = False, timeout_s: float = 0.5):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("GATEWAY_OPA_URL", f"expected an http:// or https:// URL, got {url!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self.endpoint = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
        self._path = parts.path.rstrip("/") + "/v1/data/" + PACKAGE.replace(".", "/") + "?provenance=true"
        self.fail_open, self.timeout_s = fail_open, timeout_s
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.version = "opa"
        self.calls = self.errors = 0
        self.last_error: str | None = None

    def reads(self, field: str) -> bool:
        return True  # the policy is on the server; assume it may read anything

    def decide(self, policy_input: Mapping) -> PolicyDecision:
        self.calls += 1
        try:
            body = json.dumps({"input": policy_input}, allow_nan=False).encode()
            status, payload = self._post(body)
            return self._decision(status, payload)
        except (OpaUnavailable, PolicyContractError) as e:
            reason = str(e)
        except (TypeError, ValueError) as e:
            reason = f"input is not plain JSON ({e})"
        self.errors += 1
        self.last_error = reason
        return failed_decision(reason, version=self.version, fail_open=self.fail_open)

    def _decision(self, status: int, payload: bytes) -> PolicyDecision:
        try:
            answer = json.loads(payload)
        except ValueError:
            raise OpaUnavailable(f"OPA answered {status} with a body that is not JSON") from None
        if status != 200:
            detail = answer.get("message", "") if isinstance(answer, dict) else ""
            code = answer.get("code", "error") if isinstance(answer, dict) else "error"
            raise OpaUnavailable(f"OPA answered {status} {code}: {str(detail)[:200]}")
        if not isinstance(answer, dict) or "result" not in answer:
            raise PolicyContractError(f"OPA has no document at {PACKAGE} (is the policy loaded?)")
        self.version = _revision(answer.get("provenance")) or "opa"
        return decision_from_document(answer["result"], self.version)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect()
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                return response.status, response.read()
            except _STALE as e:
                self._drop(conn)
                conn = None
                if not reused:
                    raise OpaUnavailable(f"OPA at {self.endpoint} closed the connection ({type(e).__name__})") from None
                reused = False  # a kept-alive connection went stale: one fresh try
            except TimeoutError:
                self._drop(conn)
                raise OpaUnavailable(f"OPA at {self.endpoint} did not answer within {self.timeout_s:g} s") from None
            except (OSError, http.client.HTTPException) as e:
                self._drop(conn)
                raise OpaUnavailable(f"cannot reach OPA at {self.endpoint} ({type(e).__name__})") from None
        raise OpaUnavailable(f"OPA at {self.endpoint} closed the connection twice")  # pragma: no cover

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout_s)
        self._local.conn = conn
        with self._lock:
            self._open.append(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()

    def stats(self) -> dict:
        return {
            "version": self.version,
            "endpoint": self.endpoint,
            "calls": self.calls,
            "errors": self.errors,
            "last_error": self.last_error,
        }


def _revision(provenance) -> str | None:
    """``name@revision`` of each bundle OPA reports, so a new bundle shows as a new version."""
    bundles = provenance.get("bundles") if isinstance(provenance, dict) else None
    if not isinstance(bundles, dict):
        return None
    revisions = [
        f"{name}@{b.get('revision')}" for name, b in sorted(bundles.items()) if isinstance(b, dict) and b.get("revision")
    ]
    return ",".join(revisions) or None
