"""The OpenAPI 3.1 document, generated from the contract's pydantic models.

Request bodies come from ``contract`` (the models every body is validated against), answers
from ``contract_results``, and each route's error statuses from the one table in
``errors`` (``HTTP_ERRORS`` plus ``GATEWAY_ERRORS``), each with the error body of the
route's shape. The ``model`` fields list the models this gateway can route to. When
``GATEWAY_API_KEYS`` is set the bearer scheme is required on every route but the health
check; without keys the API is open and the document says so by requiring nothing.
"""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from ..providers import PROVIDER_NAMES
from .contract import ChatCompletionRequest, GenerateBody
from .contract_results import RESULT_MODELS
from .errors import documented

REF = "#/components/schemas/{model}"
# One server-sent event: its data is JSON (a piece, then the result) or [DONE]; an error
# after the stream began arrives as an event too (see the README).
SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string"}, "event": {"type": "string", "enum": ["message", "error"]}},
    "required": ["data"],
}
_JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _schemas(candidates) -> dict:
    models = [(m, "validation") for m in (ChatCompletionRequest, GenerateBody)] + [(m, "serialization") for m in RESULT_MODELS]
    _, top = models_json_schema(models, ref_template=REF)
    schemas = top["$defs"]
    providers = [p for p in PROVIDER_NAMES if any(c[0] == p for c in candidates)]
    model_ids = list(dict.fromkeys(m for _, m in candidates))
    chat_model = schemas["ChatCompletionRequest"]["properties"]["model"]
    chat_model["enum"] = ["auto", *providers, *model_ids]
    pinned = schemas["GenerateBody"]["properties"]["model"]
    pinned["anyOf"] = [{"type": "string", "enum": model_ids}, {"type": "null"}]
    return schemas


def _responses(ok: str | None, scope: str, error: str, keys: bool, stream: bool = False) -> dict:
    out: dict = {}
    if ok is not None:
        content = {_JSON: {"schema": _ref(ok)}}
        if stream:
            content["text/event-stream"] = {"schema": SSE_EVENT}
        out["200"] = {"description": "OK", "content": content}
    for status, why in documented(scope, keys).items():
        out[str(status)] = {"description": why, "content": {_JSON: {"schema": _ref(error)}}}
    return out


def _body(model: str) -> dict:
    return {"required": True, "content": {_JSON: {"schema": _ref(model)}}}


def _paths(keys: bool) -> dict:
    chat = {
        "operationId": "createChatCompletion",
        "summary": "OpenAI-compatible chat completion (JSON, or SSE with stream: true)",
        "requestBody": _body("ChatCompletionRequest"),
        "responses": _responses("ChatCompletion", "body", "OpenAIError", keys, stream=True),
    }
    generate = {
        "operationId": "generate",
        "summary": "One prompt or conversation, routed (JSON, or SSE with stream: true)",
        "requestBody": _body("GenerateBody"),
        "responses": _responses("GenerateResponse", "generate", "GenerateError", keys, stream=True),
    }
    model_id = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/generate": {"post": generate},
        "/v1/chat/completions": {"post": chat},
        "/v1/models": {"get": {"operationId": "listModels", "responses": _responses("ModelList", "all", "OpenAIError", keys)}},
        "/v1/models/{model_id}": {
            "get": {
                "operationId": "retrieveModel",
                "parameters": [model_id],
                "responses": _responses("ModelEntry", "lookup", "OpenAIError", keys),
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "security": [],
                "responses": _responses("Health", "all", "GenerateError", keys=False),
            }
        },
    }


def build(app, candidates, keys: bool) -> dict:
    """The whole document for ``app`` serving ``candidates``."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": app.title, "version": app.version},
        "paths": _paths(keys),
        "components": {
            "schemas": _schemas(candidates),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a key from GATEWAY_API_KEYS"}},
        },
    }
    if keys:
        doc["security"] = [{"bearer": []}]
    return doc
