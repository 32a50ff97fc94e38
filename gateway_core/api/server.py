"""Running the API: ``serve`` for ``gateway serve`` and ``make api``, under uvicorn.

The server speaks HTTP/1.1 through ``guard.GuardedH11Protocol`` (a header-read deadline,
JSON answers to oversize or malformed requests) and admits at most
``GATEWAY_MAX_CONNECTIONS`` open connections and requests (uvicorn's ``limit_concurrency``;
past it a request gets 503 at once rather than waiting). With several workers it binds
the listening socket itself so accepted connections get TCP_NODELAY.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

from fastapi import FastAPI

from ..config import Settings
from ..errors import ConfigError
from ..governance.policy import check_policy
from ..usage.configure import check_log_storage
from .app import create_app
from .guard import HEADER_TIMEOUT_ATTR, MAX_HEADER_BYTES

WORKER_STARTUP_S = 60
PROTOCOL = "gateway_core.api.guard:GuardedH11Protocol"


def app_factory() -> FastAPI:
    """Import-string factory for uvicorn workers: each process builds its own gateway."""
    return create_app()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _keys_required(settings: Settings) -> bool:
    """Whether the API will ask callers for a key: static keys, or a virtual key in the database."""
    if settings.api_keys:
        return True
    from ..governance import Governance

    with Governance.from_settings(settings) as gov:
        return bool(gov.requires_key())


def nodelay_socket(sock: socket.socket) -> socket.socket:
    """``sock`` (bound, not yet listening) re-wrapped with TCP_NODELAY set and its protocol
    known as TCP. Accepted connections inherit the option on Linux, and asyncio sets it on
    each one itself only when the listener reports IPPROTO_TCP, which a socket built by
    family alone does not; without it small keep-alive answers wait on delayed ACKs."""
    sock = socket.socket(fileno=sock.detach())  # family, type and protocol read from the fd
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    return sock


def server_config(app, settings: Settings, **options):
    """A uvicorn ``Config`` with the gateway's protocol guard and connection limit."""
    import uvicorn

    config = uvicorn.Config(
        app,
        http=PROTOCOL,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        **options,
    )
    setattr(config, HEADER_TIMEOUT_ATTR, settings.header_timeout_s)  # read by the protocol
    return config


def _run_workers(settings: Settings, workers: int, **options) -> None:
    """uvicorn for several worker processes, sharing one TCP_NODELAY listener."""
    from uvicorn.supervisors import Multiprocess

    # A worker imports the SDKs and starts its gateway before it can answer the
    # supervisor's ping; uvicorn's 5 s default kills slow starters on a busy host.
    config = server_config(
        "gateway_core.api:app_factory",
        settings,
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_STARTUP_S,
        **options,
    )
    sock = nodelay_socket(config.bind_socket())  # bind_socket logs the address, exits if taken
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # as uvicorn.run: an interrupt before the supervisor's handlers
        pass


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, access_log: bool = False) -> int:
    """Run the API under uvicorn until interrupted; returns a process exit code. A line
    per request is logged only with ``access_log`` (it costs time on every request)."""
    import uvicorn

    try:
        settings = Settings.from_env()
        check_log_storage(settings)  # a bad log path is one line here, before anything listens
        # Compiled once here too: a broken policy is one line now, not a traceback from a worker.
        check_policy(settings.policy)
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    if not _is_loopback(host) and not _keys_required(settings):
        if set(settings.emulated_providers()) != set(settings.enabled_providers()):
            print(
                f"error: refusing to expose live providers on {host} without API keys; set GATEWAY_API_KEYS or "
                "create one with 'gateway keys create', or bind to 127.0.0.1",
                file=sys.stderr,
            )
            return 2
        print(f"warning: the API on {host} is open (no API keys); providers are emulated", file=sys.stderr)
    options = {"host": host, "port": port, "server_header": False, "access_log": access_log}
    try:
        if workers > 1:
            _run_workers(settings, workers, **options)
        else:
            # uvicorn binds this one itself via asyncio, which already sets TCP_NODELAY.
            uvicorn.Server(server_config(create_app(settings=settings), settings, **options)).run()
    except SystemExit as e:  # uvicorn exits when it cannot bind or start
        return int(e.code or 0) if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        pass
    return 0
