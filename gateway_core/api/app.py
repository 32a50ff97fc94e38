"""The REST API: ``POST /generate``, OpenAI-compatible ``/v1``, and the probes ``/healthz`` and ``/readyz``.

``create_app`` wires a FastAPI app around one ``Gateway`` (built in the lifespan from the
environment when none is given, and closed on shutdown). Handlers are thin: read the
body strictly (``body``), convert it (``models``), call the blocking gateway in
the threadpool, and shape the answer; streams go through ``sse``. The request's headers
go with it, so its telemetry span is a SERVER span continuing any W3C ``traceparent``.
Every error is an ``ApiError`` rendered in the route's own shape (``errors``); bearer keys are checked in ``auth``; refusals of the
client's input are logged as ``rejected`` rows, without content. ``serve`` runs it
under uvicorn for ``gateway serve`` and ``make api``; with several workers it binds the
listening socket itself so accepted connections get TCP_NODELAY. ``/healthz`` is liveness
(the process answers); ``/readyz`` is readiness (503 with reasons while the usage log is
not writing to its database, or no provider is usable).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from functools import partial

from anyio import to_thread
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ..config import Settings
from ..errors import GatewayError
from ..usage.configure import check_log_storage
from . import contract, openapi, sse
from .admin import install_admin_routes
from .auth import KeyAuth
from .bodies import generate_request, user_of
from .body import read_json_object
from .chat_body import chat_request
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
from .hygiene import HeaderHygiene
from .models import RATE_LIMIT_HEADERS, completion_json, gateway_headers, generate_json, model_json, models_json

log = logging.getLogger("gateway_core.api")

# Each open stream holds a worker thread while it waits for the next token, so the
# default pool of 40 would cap concurrent streams far below what one process can serve.
THREADPOOL_SIZE = 256
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request the client abandoned


def create_app(gateway=None, settings: Settings | None = None) -> FastAPI:
    """The API app. Pass a ``Gateway`` to share one (it stays open); otherwise the app
    builds its own from ``settings`` (default: the environment) and closes it on shutdown."""
    if settings is None:
        settings = gateway.settings if gateway is not None else Settings.from_env()
    if gateway is None:
        # Fail here, in one line naming the variable, rather than in the lifespan, where
        # the server would print a traceback.
        check_log_storage(settings)

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
    app.openapi = lambda: _document(app)
    app.state.settings = settings
    # Added innermost first: CORS answers preflights, hygiene refuses ambiguous headers,
    # then keys are checked.
    app.add_middleware(KeyAuth)
    app.add_middleware(HeaderHygiene)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "HEAD"],
            allow_headers=["authorization", "content-type", "content-encoding"],
            expose_headers=[
                "x-request-id",
                "x-gateway-provider",
                "x-gateway-model",
                "x-gateway-cost-usd",
                "x-gateway-budget",
                *RATE_LIMIT_HEADERS,
            ],
        )
    _install_error_handlers(app)
    _install_routes(app, settings)
    install_admin_routes(app, settings)
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
        return error_response(route_error(exc.status_code, exc.headers), is_openai_path(request.url.path))

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


def _document(app: FastAPI) -> dict:
    """The OpenAPI document, built once the gateway (and so its models, and whether keys
    are required) is known."""
    if app.openapi_schema is None:
        gw = app.state.gateway
        keys = bool(gw.settings.api_keys) or bool(gw.governance.requires_key())
        app.openapi_schema = openapi.build(app, gw.candidates(), keys)
    return app.openapi_schema


def _install_routes(app: FastAPI, settings: Settings) -> None:
    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    async def healthz():
        return json_response({"status": "ok", "mode": settings.mode})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request):
        gw = request.app.state.gateway
        ready = gw.readiness()
        body = {**ready.as_dict(), "usage_log": gw.usage_log.health().as_dict()}
        return json_response(body, 200 if ready.ready else 503)

    @app.get("/v1/models")
    async def list_models(request: Request):
        return json_response(models_json(request.app.state.gateway.candidates()))

    @app.get("/v1/models/{model_id:path}")
    async def retrieve_model(request: Request, model_id: str):
        return json_response(model_json(request.app.state.gateway.candidates(), model_id))

    @app.post("/generate")
    async def generate(request: Request):
        gw = request.app.state.gateway
        body = await _body(request)
        req, stream = generate_request(body, gw.candidates())
        contract.validate(contract.GenerateBody, body, openai_shape=False)
        key = getattr(request.state, "principal", None)
        if stream:
            pump, first = await sse.start(gw, req, key, request.headers)
            return sse.generate_response(pump, first, _in_band_error(request))
        result = await run_in_threadpool(partial(gw.generate, req, key=key, source="api", trace_headers=request.headers))
        return json_response(generate_json(result), headers=gateway_headers(result))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        gw = request.app.state.gateway
        body = await _body(request)
        req, opts = chat_request(body, gw.candidates())
        contract.validate(contract.ChatCompletionRequest, body, openai_shape=True)
        key = getattr(request.state, "principal", None)
        if opts.stream:
            pump, first = await sse.start(gw, req, key, request.headers)
            return sse.chat_response(pump, first, opts, _in_band_error(request))
        result = await run_in_threadpool(partial(gw.generate, req, key=key, source="api", trace_headers=request.headers))
        return json_response(completion_json(result, opts), headers=gateway_headers(result))
