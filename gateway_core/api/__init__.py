"""The REST API: ``POST /generate``, the OpenAI-compatible ``/v1`` routes, ``/healthz`` and ``/readyz``.

``app`` wires the routes around one ``Gateway``; ``server`` runs it under uvicorn with the
protocol guards of ``guard``; ``hygiene`` refuses ambiguous headers; ``auth`` checks bearer keys; ``body`` reads a
request body strictly; ``models`` converts bodies and results (pure, dict in, dict out);
``errors`` renders every failure in the route's own shape; ``sse`` streams answers as
server-sent events.
"""

from .app import create_app
from .server import app_factory, nodelay_socket, serve

__all__ = ["app_factory", "create_app", "nodelay_socket", "serve"]
