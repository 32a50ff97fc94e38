"""Encoder for AWS ``application/vnd.amazon.eventstream`` frames, as ConverseStream sends them.

A frame is a 12-byte prelude (total length, headers length, CRC-32 of those 8 bytes), the
headers, the payload and a CRC-32 of everything before it. botocore checks both CRCs, so a
wrong one surfaces as a parse error in the client, never as silently bad data. Only string
headers (type 7) are needed: every header Bedrock sends is a string. Decoding is botocore's
job (``botocore.eventstream.EventStreamBuffer``); the project only encodes.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

_STRING = 7


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _header(name: str, value: str) -> bytes:
    n, v = name.encode("utf-8"), value.encode("utf-8")
    return struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One complete frame with both CRCs."""
    header_bytes = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 16 + len(header_bytes) + len(payload), len(header_bytes))
    body = prelude + struct.pack(">I", _crc(prelude)) + header_bytes + payload
    return body + struct.pack(">I", _crc(body))


def event(event_type: str, obj: object) -> bytes:
    """A normal ``:message-type event`` frame carrying a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def exception(exception_type: str, obj: Mapping[str, object]) -> bytes:
    """An in-stream exception; ``exception_type`` is the lowerCamel member name
    (``throttlingException``, ``modelStreamErrorException``…). botocore raises EventStreamError."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, json.dumps(obj, separators=(",", ":")).encode("utf-8"))
