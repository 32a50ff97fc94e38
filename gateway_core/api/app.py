"""The REST API: ``POST /generate``, OpenAI-compatible ``/v1``, and ``GET /healthz``.

``create_app`` wires a FastAPI app around one ``Gateway`` (built in the lifespan from the
environment when none is given, and closed on shutdown). Handlers are thin: read the
body strictly (``body``), convert it (``models``), call the blocking gateway in
the threadpool, and shape the answer; streams go through ``sse``. Every error is an
``ApiError`` rendered in the route's own shape (``errors``); bearer keys are checked in ``auth``; refusals of the
client's input are logged as ``rejected`` rows, without content. ``serve`` runs it
under uvicorn for ``gateway serve`` and ``make api``; with several workers it binds the
listening socket itself so accepted connections get TCP_NODELAY.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ..config import Settings
from ..errors import ConfigError, GatewayError
from . import sse
from .auth import BearerAuth
from .body import read_json_object
from .errors import (
    ApiError,
    error_payload,
    error_response,
    gateway_error,
    internal_error,
    is_openai_path,
    json_response,
    log_rejected,
    route_error,
)
from .models import (
    CHAT_DOC,
    GENERATE_DOC,
    chat_request,
    completion_json,
    gateway_headers,
    generate_json,
    generate_request,
    models_json,
    user_of,
)

log = logging.getLogger("gateway_core.api")

# Each open stream holds a worker thread while it waits for the next token, so the
# default pool of 40 would cap concurrent streams far below what one process can serve.
THREADPOOL_SIZE = 256
WORKER_STARTUP_S = 60
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request the client abandoned


def create_app(gateway=None, settings: Settings | None = None) -> FastAPI:
    """The API app. Pass a ``Gateway`` to share one (it stays open); otherwise the app
    builds its own from ``settings`` (default: the environment) and closes it on shutdown."""
    if settings is None:
        settings = gateway.settings if gateway is not None else Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, THREADPOOL_SIZE)
        owned = gateway is None
        if owned:
            from ..gateway import Gateway

            app.state.gateway = await run_in_threadpool(Gateway, settings)
        else:
            app.state.gateway = gateway
        try:
            yield
        finally:
            if owned:
                await run_in_threadpool(app.state.gateway.close)

    app = FastAPI(title="GenAI Cloud Gateway", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    if settings.api_keys:
        app.add_middleware(BearerAuth, keys=settings.api_key_values())
    _install_error_handlers(app)
    _install_routes(app, settings)
    return app


# --- errors -------------------------------------------------------------------------------


def _scrubber(request: Request):
    gw = getattr(request.app.state, "gateway", None)
    return gw.scrub if gw is not None else (lambda text: text)


def _to_api_error(request: Request, exc: Exception) -> ApiError:
    openai_shape = is_openai_path(request.url.path)
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, GatewayError):
        return gateway_error(exc, openai_shape, _scrubber(request))
    return internal_error()


def _install_error_handlers(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception):
        err = _to_api_error(request, exc)
        if err.rejected:
            log_rejected(request.app.state.gateway, err, getattr(request.state, "user", None))
        return error_response(err, is_openai_path(request.url.path))

    async def on_http_error(request: Request, exc: StarletteHTTPException):
        return error_response(route_error(exc.status_code), is_openai_path(request.url.path))

    async def on_unexpected(request: Request, exc: Exception):
        # No traceback or message reaches the client; uvicorn logs the exception.
        return error_response(internal_error(), is_openai_path(request.url.path))

    async def on_client_gone(request: Request, exc: ClientDisconnect):
        # The client hung up mid-body: nobody is left to answer and nothing it sent was
        # refused, so no traceback and no rejected row; uvicorn drops the response unsent.
        log.debug("client disconnected before sending the whole body of %s", request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(GatewayError, on_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _in_band_error(request: Request):
    """Error JSON for a stream that already started (its status line is gone)."""
    openai_shape = is_openai_path(request.url.path)

    def render(exc: Exception) -> dict:
        if not isinstance(exc, GatewayError):
            log.error("stream failed", exc_info=exc)
        return error_payload(_to_api_error(request, exc), openai_shape)

    return render


# --- routes -------------------------------------------------------------------------------


async def _body(request: Request) -> dict:
    body = await read_json_object(request)
    request.state.user = user_of(body)
    return body


def _install_routes(app: FastAPI, settings: Settings) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return json_response({"status": "ok", "mode": settings.mode})

    @app.get("/v1/models")
    async def list_models(request: Request):
        return json_response(models_json(request.app.state.gateway.candidates()))

    @app.post("/generate", openapi_extra=GENERATE_DOC)
    async def generate(request: Request):
        gw = request.app.state.gateway
        req, stream = generate_request(await _body(request), gw.candidates())
        if stream:
            pump, first = await sse.start(gw, req)
            return sse.generate_response(pump, first, _in_band_error(request))
        result = await run_in_threadpool(gw.generate, req)
        return json_response(generate_json(result), headers=gateway_headers(result))

    @app.post("/v1/chat/completions", openapi_extra=CHAT_DOC)
    async def chat_completions(request: Request):
        gw = request.app.state.gateway
        req, opts = chat_request(await _body(request), gw.candidates())
        if opts.stream:
            pump, first = await sse.start(gw, req)
            return sse.chat_response(pump, first, opts, _in_band_error(request))
        result = await run_in_threadpool(gw.generate, req)
        return json_response(completion_json(result, opts), headers=gateway_headers(result))


# --- running ------------------------------------------------------------------------------


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


def nodelay_socket(sock: socket.socket) -> socket.socket:
    """``sock`` (bound, not yet listening) re-wrapped with TCP_NODELAY set and its protocol
    known as TCP. Accepted connections inherit the option on Linux, and asyncio sets it on
    each one itself only when the listener reports IPPROTO_TCP, which a socket built by
    family alone does not; without it small keep-alive answers wait on delayed ACKs."""
    sock = socket.socket(fileno=sock.detach())  # family, type and protocol read from the fd
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    return sock


def _run_workers(workers: int, **options) -> None:
    """``uvicorn.run`` for several worker processes, sharing one TCP_NODELAY listener."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # A worker imports the SDKs and starts its gateway before it can answer the
    # supervisor's ping; uvicorn's 5 s default kills slow starters on a busy host.
    config = uvicorn.Config(
        "gateway_core.api:app_factory", factory=True, workers=workers, timeout_worker_healthcheck=WORKER_STARTUP_S, **options
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
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    if not _is_loopback(host) and not settings.api_keys:
        if set(settings.emulated_providers()) != set(settings.enabled_providers()):
            print(
                f"error: refusing to expose live providers on {host} without GATEWAY_API_KEYS; set it, or bind to 127.0.0.1",
                file=sys.stderr,
            )
            return 2
        print(f"warning: the API on {host} is open (no GATEWAY_API_KEYS); providers are emulated", file=sys.stderr)
    options = {"host": host, "port": port, "server_header": False, "access_log": access_log}
    try:
        if workers > 1:
            _run_workers(workers, **options)
        else:
            # uvicorn binds this one itself via asyncio, which already sets TCP_NODELAY.
            uvicorn.run(create_app(settings=settings), **options)
    except SystemExit as e:  # uvicorn exits when it cannot bind or start
        return int(e.code or 0) if isinstance(e.code, int) else 1
    return 0
