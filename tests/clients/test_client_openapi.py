"""The OpenAPI document: generated from the contract models, with the bearer scheme, every
error status with its schema, and real response schemas; then schemathesis, with its
default checks, against ``gateway serve`` (bounded examples, a fixed seed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from client_support import client_env

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def document(gateway) -> dict:
    r = httpx.get(gateway.url + "/openapi.json", headers={"Authorization": f"Bearer {gateway.key}"})
    assert r.status_code == 200
    return r.json()


def _operations(doc):
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_the_document_is_openapi_3_1_with_the_bearer_scheme_required(document):
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a key from GATEWAY_API_KEYS",
    }
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/healthz"]["get"]["security"] == []  # the health check needs no key
    assert '"nullable"' not in json.dumps(document)  # an OpenAPI 3.0 keyword


def test_every_operation_documents_its_errors_and_real_response_schemas(document):
    schemas = document["components"]["schemas"]
    for path, _method, op in _operations(document):
        responses = op["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
        errors = {int(s) for s in responses if s != "200"}
        assert {500} <= errors and (path == "/healthz" or 401 in errors), (path, errors)
        shape = "GenerateError" if path in ("/generate", "/healthz") else "OpenAIError"
        for status in errors:
            assert responses[str(status)]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{shape}"}
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {400, 413, 415, 502, 503, 504} <= {int(s) for s in chat}
    assert set(schemas["ChatCompletion"]["required"]) >= {"id", "choices", "usage", "x_gateway"}
    assert "422" in document["paths"]["/generate"]["post"]["responses"]


def test_request_schemas_come_from_the_models_and_name_the_routable_models(document, gateway):
    schemas = document["components"]["schemas"]
    chat = schemas["ChatCompletionRequest"]
    assert chat["additionalProperties"] is False
    assert chat["properties"]["model"]["enum"][:3] == ["auto", "azure", "bedrock"]
    assert "gpt-4o-mini" in chat["properties"]["model"]["enum"]
    message = chat["properties"]["messages"]
    assert message["minItems"] == 1 and message["items"]["discriminator"]["propertyName"] == "role"
    content = schemas["UserMessage"]["properties"]["content"]["anyOf"]
    assert {branch.get("type") for branch in content} == {"string", "array"}  # text, or text parts
    body = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}


def test_schemathesis_finds_no_failure_with_its_default_checks(gateway, tmp_path):
    """All phases and all default checks; the hooks keep generated bodies inside the rules
    that span several fields (see schemathesis_hooks.py)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        gateway.url + "/openapi.json",
        "--header",
        f"Authorization: Bearer {gateway.key}",
        "--max-examples",
        "20",
        "--request-timeout",
        "30",
        "--seed",
        "20261130",
        "--no-color",
    ]
    env = {**client_env(), "PYTHONPATH": str(HERE), "SCHEMATHESIS_HOOKS": "schemathesis_hooks"}
    # Run from a scratch directory: schemathesis keeps its example database in the working one.
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
