"""Calling the gateway's REST API from Python: ``POST /generate`` as JSON and as server-sent
events with httpx, and ``/v1/chat/completions`` with the official openai SDK pointed at the
gateway. Prints what answered, the tokens and the cost of each call.

    python gateway_client.py [--url URL] [--key KEY] [generate|stream|chat|all] "prompt"

URL defaults to $GATEWAY_URL or http://127.0.0.1:8000 and KEY to $GATEWAY_API_KEY (needed
only when the gateway sets GATEWAY_API_KEYS). Exit codes: 0 answered, 1 the gateway refused
or failed, 3 the gateway could not be reached. Needs httpx and openai (pip install openai).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator

import httpx
import openai


class GatewayError(Exception):
    """An error answer: ``status``, ``kind`` (the gateway's type or code) and ``field``."""

    def __init__(self, status: int, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.field = status, kind, field


class AuthError(GatewayError):
    """401: the bearer key is missing or wrong."""


class RequestError(GatewayError):
    """400/413/415/422: the request is wrong; ``field`` says where."""


class UnavailableError(GatewayError):
    """5xx, or a stream that broke after it started: the providers or the gateway failed."""


def _error(status: int, body: dict) -> GatewayError:
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    kind = err.get("code") or err.get("type") or "http_error"
    cls = AuthError if status == 401 else RequestError if 400 <= status < 500 else UnavailableError
    return cls(status, kind, err.get("message") or f"HTTP {status}", err.get("field") or err.get("param"))


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = json.loads(response.read())
    except ValueError:
        body = {}
    raise _error(response.status_code, body)


def generate(http: httpx.Client, prompt: str, **fields) -> dict:
    response = http.post("/generate", json={"prompt": prompt, **fields})
    _raise_for(response)
    return response.json()


def generate_stream(http: httpx.Client, prompt: str, on_delta: Callable[[str], None], **fields) -> dict:
    """Stream one answer; ``on_delta`` gets each piece of text, the final frame is returned."""
    with http.stream("POST", "/generate", json={"prompt": prompt, "stream": True, **fields}) as response:
        _raise_for(response)
        for event, data in _events(response.iter_lines()):
            if event == "error":
                raise _error(502, json.loads(data))
            frame = json.loads(data)
            if "delta" in frame:
                on_delta(frame["delta"])
            else:
                return frame
    raise UnavailableError(502, "stream_error", "the stream ended without a result")


def _events(lines: Iterator[str]) -> Iterator[tuple[str | None, str]]:
    event = None
    for line in lines:
        if not line:
            event = None
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            if data == "[DONE]":
                return
            yield event, data


def _summary(result: dict, tokens: tuple[int, int, int]) -> None:
    cost = "unpriced" if result.get("unpriced") else result.get("cost_usd")
    print(f"provider: {result['provider']}\nmodel: {result['model']}")
    print(f"tokens: {tokens[0]} in, {tokens[1]} out, {tokens[2]} total ({result['usage']['source']})")
    print(f"cost_usd: {cost}\nlatency_ms: {result['latency_ms']:.1f}\nrequest_id: {result['request_id']}")


def run(command: str, args: argparse.Namespace, http: httpx.Client) -> None:
    if command == "chat":
        print("== POST /v1/chat/completions")
        sdk = openai.OpenAI(base_url=args.url.rstrip("/") + "/v1", api_key=args.key or "unused", max_retries=0)
        reply = sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": args.prompt}])
        print("answer:", reply.choices[0].message.content)
        u = reply.usage
        _summary(reply.model_extra["x_gateway"], (u.prompt_tokens, u.completion_tokens, u.total_tokens))
        return
    if command == "stream":
        print("== POST /generate (stream)\nanswer: ", end="")
        result = generate_stream(http, args.prompt, lambda d: print(d, end="", flush=True))
        print()
    else:
        print("== POST /generate")
        result = generate(http, args.prompt)
        print("answer:", result["text"])
    u = result["usage"]
    _summary(result, (u["input_tokens"], u["output_tokens"], u["total_tokens"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("GATEWAY_API_KEY"))
    parser.add_argument("command", nargs="?", choices=("generate", "stream", "chat", "all"), default="all")
    parser.add_argument("prompt")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    commands = ("generate", "stream", "chat") if args.command == "all" else (args.command,)
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as http:
        try:
            for command in commands:
                run(command, args, http)
        except GatewayError as e:
            where = f"kind={e.kind} field={e.field or '-'}"
            print(f"error: {type(e).__name__} (HTTP {e.status}) {where}: {e}", file=sys.stderr)
            return 1
        except openai.APIStatusError as e:
            print(f"error: {type(e).__name__} (HTTP {e.status_code}): {e.message}", file=sys.stderr)
            return 1
        except (httpx.TransportError, openai.APIConnectionError) as e:
            print(f"error: cannot reach the gateway at {args.url}: {e}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
