"""Reading a request body into a JSON object, strictly and within fixed limits.

The body must be ``application/json`` (415 otherwise), at most ``MAX_BODY_BYTES``
(413, checked from Content-Length before reading and again while reading, so a chunked
body cannot slip past), UTF-8, and a single JSON object. It may be sent gzip-compressed
(``Content-Encoding: gzip``); the limit then applies to the decompressed bytes too, and
any other coding is refused with 415. Beyond what ``json.loads``
accepts, it also refuses duplicate keys (which parsers resolve differently), nesting
deeper than ``MAX_JSON_DEPTH`` (checked by a linear scan before the recursive parser
runs), and the non-standard ``NaN``/``Infinity`` literals or numbers that overflow to
infinity (reported with the field they sit in). Each refusal is an ``ApiError`` whose
message never quotes the body.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from itertools import accumulate

from .errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class _NonFinite:
    """Stands in for NaN/Infinity during parsing so the field holding it can be named."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal


def _bad(message: str, field: str | None = "body", status: int = 400, type_: str = "invalid_json") -> ApiError:
    return ApiError(status, type_, message, field=field)


def check_content_type(value: str | None) -> None:
    media = (value or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = media[:60] if media else "none"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type must be application/json (got {shown})",
        field="content-type",
        code="unsupported_media_type",
    )


def too_large(limit: int, when: str = "") -> ApiError:
    return ApiError(
        413,
        "request_too_large",
        f"request body exceeds the {limit} byte limit" + (f" {when}" if when else ""),
        field="body",
        code="request_too_large",
    )


def content_coding(value: str | None) -> str:
    """``identity`` or ``gzip``; any other ``Content-Encoding`` is refused with 415."""
    coding = (value or "identity").strip().lower()
    if coding in ("identity", "", "gzip", "x-gzip"):
        return "gzip" if coding.endswith("gzip") else "identity"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Encoding must be gzip or identity (got {coding[:40]})",
        field="content-encoding",
        code="unsupported_content_encoding",
    )


def gunzip_limited(raw: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """A gzip body decompressed, refusing more than ``limit`` bytes of output: the limit is
    on what the server must hold, so a small bomb is stopped before it expands."""
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise _bad("request body is not valid gzip", field="content-encoding") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise too_large(limit, "after decompression")
    if not inflater.eof or inflater.unused_data:
        raise _bad("request body is not one complete gzip stream", field="content-encoding")
    return out


async def read_limited(request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body (decompressed when gzip), refusing anything over ``limit`` bytes as early
    as it is known. A client that hangs up part-way raises starlette's ``ClientDisconnect``,
    which the app answers quietly (see ``api``): it is neither a refusal nor a fault."""
    coding = content_coding(request.headers.get("content-encoding"))
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _bad("Content-Length is not a number", field="content-length")
        if int(declared) > limit:
            raise too_large(limit)
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    return gunzip_limited(raw, limit) if coding == "gzip" else raw


def _max_depth(text: str) -> int:
    # Strings may hold any bracket, so drop them first; what remains is structure.
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(1 if c in "[{" else -1 for c in brackets))


def _pairs(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _float(literal: str):
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)


def _find_non_finite(value, path: str = "") -> str | None:
    if isinstance(value, _NonFinite):
        return path or "body"
    if isinstance(value, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for sub_path, sub in items:
        found = _find_non_finite(sub, sub_path)
        if found:
            return found
    return None


def _short(name: str) -> str:
    return name if len(name) <= 40 and name.isprintable() else repr(name[:40])[1:-1] + "…"


def parse_object(raw: bytes) -> dict:
    """Parse ``raw`` as one JSON object or raise a 400 ``ApiError`` saying why not."""
    if not raw.strip():
        raise _bad("request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("request body is not valid UTF-8") from None
    text = text.removeprefix("\ufeff")
    if _max_depth(text) > MAX_JSON_DEPTH:
        raise _bad(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_NonFinite, parse_float=_float)
    except _DuplicateKey as e:
        raise _bad(f"duplicate key {_short(e.key)!s} in JSON object", field=_short(e.key)) from None
    except json.JSONDecodeError as e:
        raise _bad(f"malformed JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except (ValueError, RecursionError):  # e.g. an integer with thousands of digits
        raise _bad("malformed JSON: a value is out of range") from None
    if not isinstance(value, dict):
        raise _bad(f"request body must be a JSON object, not {_json_kind(value)}")
    where = _find_non_finite(value)
    if where:
        raise _bad("NaN and Infinity are not valid JSON numbers", field=_short(where))
    return value


def _json_kind(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


async def read_json_object(request, limit: int = MAX_BODY_BYTES) -> dict:
    check_content_type(request.headers.get("content-type"))
    return parse_object(await read_limited(request, limit))
