"""A corpus of bad requests, shared by the Python API, ``POST /generate`` and ``POST /v1/chat/completions``.

Each ``BadInput`` is one logical mistake a client can make. ``fields`` are the request's
logical fields (prompt, task, priority, provider_hint, model, max_tokens, temperature,
user, messages); ``raw`` replaces the HTTP body for mistakes that only exist on the wire
(invalid UTF-8, broken or hostile JSON, a wrong content type). ``field`` is what the
error must name; ``None`` means the body as a whole is at fault, so any structured 4xx
will do. Every prompt carries ``MARKER`` so a test can prove no rejected content was
stored or echoed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from dataclasses import field as dc_field

from gateway_core import ChatMessage, GenerateRequest

MARKER = "BADINPUT-7f3a"
_PROMPT = f"{MARKER} please answer"
_MISSING = object()
NEST_DEPTH = 50_000
HUGE_CHARS = 5 * 1024 * 1024

# Where a surface may name a logical field: /v1 carries the prompt inside ``messages``.
V1_ALIASES = {
    "prompt": ("messages", "messages[0].content", "messages.0.content", "content", "prompt"),
}


@dataclass(frozen=True)
class BadInput:
    name: str
    fields: dict | None  # logical fields; None when only ``raw`` makes sense
    field: str | None  # what the error must name; None = the body as a whole
    raw: bytes | None = None
    content_type: str = "application/json"
    surfaces: tuple[str, ...] = ("python", "generate", "v1")
    v1_fields: dict | None = dc_field(default=None)  # a /v1 body, when not derived from ``fields``
    whole_body_ok: bool = False  # the API may refuse the body as a whole (413) instead of naming the field

    def applies(self, surface: str) -> bool:
        return surface in self.surfaces

    def accepted_fields(self, surface: str) -> tuple[str, ...]:
        if self.field is None:
            return ()
        if surface == "v1":
            return V1_ALIASES.get(self.field, (self.field,))
        return (self.field,)

    def names_field(self, reported: str | None, surface: str) -> bool:
        """Does an error naming ``reported`` point at this case's field? ``messages[0].role`` counts as ``messages``."""
        if self.field is None:
            return True
        if not isinstance(reported, str):
            return False
        return any(reported == f or reported.startswith((f + "[", f + ".")) for f in self.accepted_fields(surface))

    # --- building each surface's request ------------------------------------------------

    def python_request(self) -> GenerateRequest:
        """Build (and so validate) the request through the Python API."""
        kw = {k: v for k, v in self.fields.items() if v is not _MISSING}
        if "messages" in kw and isinstance(kw["messages"], list):
            kw["messages"] = tuple(ChatMessage(m.get("role"), m.get("content")) for m in kw["messages"])
        return GenerateRequest(**kw)

    def generate_body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return _dumps({k: v for k, v in self.fields.items() if v is not _MISSING})

    def v1_body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.v1_fields is not None:
            return _dumps(self.v1_fields)
        f = dict(self.fields)
        body = {"model": f.pop("model", "auto")}
        prompt = f.pop("prompt", _MISSING)
        if "messages" in f:
            body["messages"] = f.pop("messages")
        elif prompt is not _MISSING:
            body["messages"] = [{"role": "user", "content": prompt}]
        for k in ("max_tokens", "temperature", "user"):
            if k in f:
                body[k] = f.pop(k)
        body.update({k: v for k, v in f.items() if v is not _MISSING})
        return _dumps(body)


def _dumps(obj) -> bytes:
    # ensure_ascii turns a lone surrogate into a "\ud800" escape; NaN/Infinity stay literal,
    # exactly what a careless client (or Python's json) sends.
    return json.dumps(obj, ensure_ascii=True).encode("ascii")


def _p(**fields) -> dict:
    return {"prompt": _PROMPT, **fields}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HTTP = ("generate", "v1")
GENERATE_ONLY = ("python", "generate")  # routing fields the OpenAI shape does not carry
CHAT = ("python", "v1")  # multi-turn messages: /generate takes a prompt only

CORPUS: tuple[BadInput, ...] = (
    # --- the prompt -----------------------------------------------------------------------
    BadInput("empty_prompt", {"prompt": ""}, "prompt"),
    BadInput("whitespace_prompt", {"prompt": "  \n\t  "}, "prompt"),
    BadInput("huge_prompt_5mb", {"prompt": MARKER + " " + "x" * HUGE_CHARS}, "prompt", whole_body_ok=True),
    BadInput("nul_byte_prompt", {"prompt": f"{MARKER} abc\x00def"}, "prompt"),
    BadInput("lone_surrogate_prompt", {"prompt": f"{MARKER} bad \ud800 here"}, "prompt"),
    BadInput("prompt_is_int", {"prompt": 42}, "prompt"),
    BadInput("prompt_is_null", {"prompt": None}, "prompt"),
    BadInput("prompt_is_list", {"prompt": [MARKER, "b"]}, "prompt"),
    BadInput("prompt_is_object", {"prompt": {"text": MARKER}}, "prompt"),
    BadInput("prompt_is_bool", {"prompt": True}, "prompt"),
    BadInput("prompt_missing", {"task": "chat"}, "prompt", surfaces=("generate",)),
    BadInput("raw_invalid_utf8", None, None, raw=b'{"prompt": "' + MARKER.encode() + b' caf\xc3\x28 \xff\xfe"}', surfaces=HTTP),
    BadInput(
        "raw_invalid_utf8_v1",
        None,
        None,
        raw=b'{"model": "auto", "messages": [{"role": "user", "content": "' + MARKER.encode() + b' \xed\xa0\x80 \xc0\xaf"}]}',
        surfaces=("v1",),
    ),
    # --- routing choices --------------------------------------------------------------------
    BadInput("unknown_task", _p(task="poem"), "task", surfaces=GENERATE_ONLY),
    BadInput("task_is_int", _p(task=3), "task", surfaces=GENERATE_ONLY),
    BadInput("task_empty", _p(task=""), "task", surfaces=GENERATE_ONLY),
    BadInput("unknown_priority", _p(priority="fastest"), "priority", surfaces=GENERATE_ONLY),
    BadInput("priority_is_list", _p(priority=["low_cost"]), "priority", surfaces=GENERATE_ONLY),
    BadInput("unknown_provider_hint", _p(provider_hint="gcp"), "provider_hint", surfaces=GENERATE_ONLY),
    BadInput("provider_hint_is_int", _p(provider_hint=1), "provider_hint", surfaces=GENERATE_ONLY),
    BadInput("unknown_model", _p(model="gpt-9-preview"), "model"),
    BadInput("model_is_int", _p(model=7), "model"),
    # --- max_tokens -------------------------------------------------------------------------
    BadInput("max_tokens_zero", _p(max_tokens=0), "max_tokens"),
    BadInput("max_tokens_negative", _p(max_tokens=-1), "max_tokens"),
    BadInput("max_tokens_billion", _p(max_tokens=10**9), "max_tokens"),
    BadInput("max_tokens_bigint", _p(max_tokens=10**30), "max_tokens"),
    BadInput("max_tokens_string", _p(max_tokens="100"), "max_tokens"),
    BadInput("max_tokens_float", _p(max_tokens=1.5), "max_tokens"),
    BadInput("max_tokens_bool", _p(max_tokens=True), "max_tokens"),
    # --- temperature ------------------------------------------------------------------------
    BadInput("temperature_nan", _p(temperature=math.nan), "temperature"),
    BadInput("temperature_infinity", _p(temperature=math.inf), "temperature"),
    BadInput("temperature_negative", _p(temperature=-1), "temperature"),
    BadInput("temperature_three", _p(temperature=3), "temperature"),
    BadInput("temperature_string", _p(temperature="hot"), "temperature"),
    # --- user -------------------------------------------------------------------------------
    BadInput("user_is_int", _p(user=5), "user"),
    BadInput("user_too_long", _p(user="u" * 500), "user"),
    BadInput("user_with_newline", _p(user="bob\nadmin"), "user"),
    # --- chat messages ----------------------------------------------------------------------
    BadInput("messages_empty", _p(messages=[]), "messages", surfaces=CHAT),
    BadInput("message_role_unknown", _p(messages=[{"role": "wizard", "content": _PROMPT}]), "messages", surfaces=CHAT),
    BadInput("message_content_int", _p(messages=[{"role": "user", "content": 5}]), "messages", surfaces=CHAT),
    BadInput("messages_is_string", None, "messages", surfaces=("v1",), v1_fields={"model": "auto", "messages": _PROMPT}),
    BadInput("messages_missing", None, "messages", surfaces=("v1",), v1_fields={"model": "auto"}),
    # --- hostile or broken bodies -----------------------------------------------------------
    BadInput("deeply_nested_prompt", None, None, raw=('{"prompt": ' + _nested(NEST_DEPTH) + "}").encode(), surfaces=HTTP),
    BadInput(
        "deeply_nested_extra_field",
        None,
        None,
        raw=(
            f'{{"prompt": "{_PROMPT}", "model": "auto", "messages": [{{"role": "user", "content": "{_PROMPT}"}}], '
            f'"metadata": ' + '{"a": ' * NEST_DEPTH + "1" + "}" * NEST_DEPTH + "}"
        ).encode(),
        surfaces=HTTP,
    ),
    BadInput(
        "duplicate_prompt_key_last_empty",
        None,
        "prompt",
        raw=f'{{"prompt": "{_PROMPT}", "prompt": ""}}'.encode(),
        surfaces=("generate",),
    ),
    BadInput(
        "duplicate_max_tokens_last_negative",
        None,
        "max_tokens",
        raw=f'{{"prompt": "{_PROMPT}", "max_tokens": 5, "max_tokens": -1}}'.encode(),
        surfaces=("generate",),
    ),
    BadInput(
        "duplicate_max_tokens_last_negative_v1",
        None,
        "max_tokens",
        raw=f'{{"model": "auto", "messages": [{{"role": "user", "content": "{_PROMPT}"}}], '
        f'"max_tokens": 5, "max_tokens": -1}}'.encode(),
        surfaces=("v1",),
    ),
    BadInput("body_truncated_json", None, None, raw=f'{{"prompt": "{_PROMPT}"'.encode(), surfaces=HTTP),
    BadInput("body_empty", None, None, raw=b"", surfaces=HTTP),
    BadInput("body_is_json_list", None, None, raw=f'["{_PROMPT}"]'.encode(), surfaces=HTTP),
    BadInput("body_is_json_string", None, None, raw=f'"{_PROMPT}"'.encode(), surfaces=HTTP),
    BadInput("wrong_content_type_text", {"prompt": _PROMPT}, None, content_type="text/plain", surfaces=HTTP),
    BadInput(
        "form_urlencoded_body",
        None,
        None,
        raw=f"prompt={MARKER}&task=chat".encode(),
        content_type="application/x-www-form-urlencoded",
        surfaces=HTTP,
    ),
)

BY_NAME = {case.name: case for case in CORPUS}
assert len(BY_NAME) == len(CORPUS), "case names must be unique"


def cases_for(surface: str) -> list[BadInput]:
    return [c for c in CORPUS if c.applies(surface)]
