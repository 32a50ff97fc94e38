"""AWS Bedrock adapter: Anthropic Claude through boto3 ``bedrock-runtime`` Converse APIs.

The converting (messages, tools, structured output, stop sequences) is ``converse``'s;
this module holds the settings, the facts, the client and the error mapping. Errors inside a stream arrive as ``EventStreamError`` with lowerCamel codes and are never
retried by botocore; they are mapped like their HTTP twins. boto3 has no per-call header
argument, so a call's trace-context headers travel through a ``ContextVar`` that a
``before-send`` hook on the client copies onto every HTTP attempt of that call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping

from botocore import exceptions as bce
from pydantic import AliasChoices, Field, SecretStr

from ..config import CommaList, ProviderSettings, secret_value
from ..errors import (
    AuthFailed,
    BadRequest,
    ConfigError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from ..governance.regions import bedrock_region
from . import _errors
from .base import Completion, ProviderCall, StreamItem, host_and_port
from .converse import NAME, EventAccumulator, from_wire, request_id_of, to_wire

EMULATOR_KEY = "emulated-key"  # the loopback emulator checks a signature is present, not its key
# The like-for-like partner of Azure's default gpt-4o-mini: a small, current model, so a
# default comparison weighs two peers rather than a small model against a legacy large one.
DEFAULT_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


# --- error mapping ---------------------------------------------------------------------

_BY_CODE: dict[str, type[ProviderError]] = {
    "ThrottlingException": RateLimited,
    "TooManyRequestsException": RateLimited,
    "ServiceQuotaExceededException": RateLimited,
    "ModelNotReadyException": ProviderUnavailable,  # a 429 that is not a throttle
    "ModelTimeoutException": ProviderTimeout,
    "ModelErrorException": ProviderUnavailable,
    "ModelStreamErrorException": ProviderUnavailable,
    "InternalServerException": ProviderUnavailable,
    "ServiceUnavailableException": ProviderUnavailable,
    "AccessDeniedException": AuthFailed,
    "UnrecognizedClientException": AuthFailed,
    "InvalidSignatureException": AuthFailed,
    "ExpiredTokenException": AuthFailed,
    "ResourceNotFoundException": ModelNotFound,
}


def classify(code: str, status: int | None, message: str) -> type[ProviderError]:
    """The error class for a Bedrock error code (either spelling), HTTP status and message."""
    code = code[:1].upper() + code[1:] if code else ""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if code == "ValidationException" or status in (400, 422):
        # A 400 says little by itself: too long, filtered, a bad model id, or even a
        # "503-as-400" all arrive as ValidationException.
        return _errors.by_message(message) or BadRequest
    # An unknown code inside a stream (no status) means the service broke mid-answer.
    return _errors.by_status(status) or _errors.by_message(message) or ProviderUnavailable


def _map_client_error(exc: bce.ClientError) -> ProviderError:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    status = meta.get("HTTPStatusCode")
    if isinstance(exc, bce.EventStreamError) or code.isdigit():
        status = status if status and status != 200 else (int(code) if code.isdigit() else None)
    message = str(error.get("Message") or "")
    cls = classify(code, status, message)
    retry_after = _errors.parse_retry_after(meta.get("HTTPHeaders"))
    return _errors.build(
        cls, NAME, message, status=status, code=code or None, retry_after=retry_after, request_id=meta.get("RequestId")
    )


def _map_error(exc: BaseException) -> ProviderError:
    """Turn any boto3/botocore/urllib3 exception into the gateway's error tree (docs/wire.md)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, bce.ClientError):
        return _map_client_error(exc)
    kind = type(exc).__name__
    if isinstance(exc, (bce.ReadTimeoutError, bce.ConnectTimeoutError)) or "Timeout" in kind:
        return _errors.build(ProviderTimeout, NAME, "request timed out", code=kind)
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        return _errors.build(AuthFailed, NAME, "no usable AWS credentials", code=kind)
    if isinstance(exc, bce.ParamValidationError):
        return _errors.build(BadRequest, NAME, "request failed client-side validation", code=kind)
    # EndpointConnectionError, ConnectionClosedError, urllib3 protocol errors on a cut stream.
    return _errors.build(ProviderUnavailable, NAME, "connection failed", code=kind)


def _catchable() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [bce.ClientError, bce.BotoCoreError]
    try:
        import urllib3.exceptions

        kinds.append(urllib3.exceptions.HTTPError)
    except ImportError:  # pragma: no cover - botocore depends on urllib3
        pass
    return tuple(kinds)


_CATCH = _catchable()


# --- settings --------------------------------------------------------------------------


class BedrockSettings(ProviderSettings):
    """Credentials come from the normal boto3 chain; only a profile or a key pair makes it live."""

    profile: str | None = Field(None, validation_alias="AWS_PROFILE")
    region: str = Field("eu-west-2", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    access_key_id: SecretStr | None = Field(None, validation_alias="AWS_ACCESS_KEY_ID", repr=False)
    secret_access_key: SecretStr | None = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY", repr=False)
    session_token: SecretStr | None = Field(None, validation_alias="AWS_SESSION_TOKEN", repr=False)
    models: CommaList = Field((DEFAULT_MODEL,), validation_alias="BEDROCK_MODEL_ID")
    endpoint_url: str | None = Field(None, validation_alias="BEDROCK_ENDPOINT_URL")

    def complete(self) -> bool:
        return bool(self.profile or (self.access_key_id and self.secret_access_key))

    def missing(self) -> ConfigError | None:
        if self.complete():
            return None
        return ConfigError("AWS_PROFILE", "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY is required in live mode")

    def model_ids(self) -> tuple[str, ...]:
        return self.models or (DEFAULT_MODEL,)

    def geography(self, model: str) -> str:
        # A cross-region profile (eu., us., apac.) runs anywhere in its geography, whatever
        # region the client calls; a plain id runs in the client's region.
        return bedrock_region(model, self.region)


# --- trace context ---------------------------------------------------------------------

# The headers of the call the current thread is making; set only around the SDK call.
_CALL_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("bedrock_call_headers", default=None)


def _add_call_headers(request, **_kwargs) -> None:
    """botocore ``before-send`` hook: put the current call's trace context on the request.

    It runs after signing, so the headers are not among the signed ones; SigV4 checks only
    the headers its signature lists, so the service accepts them as sent."""
    headers = _CALL_HEADERS.get()
    if headers:
        for name, value in headers.items():
            request.headers[name] = value


class _CallHeaders:
    """``with _CallHeaders(call):`` makes ``call.headers`` the ones the hook adds."""

    __slots__ = ("headers", "token")

    def __init__(self, call: ProviderCall):
        self.headers = call.headers

    def __enter__(self):
        self.token = _CALL_HEADERS.set(self.headers) if self.headers else None

    def __exit__(self, *exc):
        if self.token is not None:
            _CALL_HEADERS.reset(self.token)


# --- the adapter -----------------------------------------------------------------------


class BedrockProvider:
    """``Provider`` over an injected boto3 ``bedrock-runtime`` client."""

    name = NAME
    label = "AWS Bedrock"
    color = "orange"  # Streamlit badge colour
    chart_color = "#f59e0b"
    supports_streaming = True
    calibrate_input_tokens = True  # Claude's tokenizer is unpublished: tiktoken x a learned factor
    Settings = BedrockSettings
    emulator = "bedrock"  # served by the loopback Bedrock emulator in demo mode
    bill_format = "cur"  # its cloud bill: the AWS Cost and Usage Report
    otel_name = "aws.bedrock"  # gen_ai.provider.name in the OpenTelemetry GenAI conventions

    def __init__(self, client):
        self.client = client
        meta = client.meta
        self.server_address, self.server_port = host_and_port(meta.endpoint_url)
        meta.events.register(f"before-send.{meta.service_model.service_id.hyphenize()}", _add_call_headers)

    @classmethod
    def from_settings(
        cls,
        settings,
        *,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
    ) -> BedrockProvider:
        import boto3
        from botocore.config import Config

        config = Config(
            # total_max_attempts counts the first call; "max_attempts" would count retries only.
            retries={"mode": "standard", "total_max_attempts": settings.sdk_max_attempts},
            connect_timeout=5,
            read_timeout=settings.timeout_s,
            max_pool_connections=64,
        )
        own: BedrockSettings = settings.provider(NAME)
        session = boto3.Session(profile_name=own.profile) if own.profile else boto3.Session()
        key_id = aws_access_key_id or secret_value(own.access_key_id)
        secret = aws_secret_access_key or secret_value(own.secret_access_key)
        creds = {}
        if key_id and secret:
            creds = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
            if own.session_token and not aws_access_key_id:
                creds["aws_session_token"] = secret_value(own.session_token)
        client = session.client(
            "bedrock-runtime",
            region_name=own.region,
            endpoint_url=endpoint_url or own.endpoint_url,
            config=config,
            **creds,
        )
        return cls(client)

    @classmethod
    def for_emulator(cls, settings, url: str) -> BedrockProvider:
        return cls.from_settings(settings, endpoint_url=url, aws_access_key_id=EMULATOR_KEY, aws_secret_access_key=EMULATOR_KEY)

    @classmethod
    def emulated_models(cls, own: BedrockSettings) -> None:
        """None: the emulator's own model table already holds every Claude id and profile."""
        return None

    def complete(self, call: ProviderCall) -> Completion:
        wire = to_wire(call)
        try:
            with _CallHeaders(call):
                payload = self.client.converse(**wire)
            return from_wire(payload, model=call.model, call=call)
        except _CATCH as exc:
            raise _map_error(exc) from None

    def stream(self, call: ProviderCall) -> Iterator[StreamItem]:
        wire = to_wire(call)
        acc = EventAccumulator(call.model, call=call)
        events = None
        try:
            with _CallHeaders(call):
                response = self.client.converse_stream(**wire)
            acc.request_id = request_id_of(response)
            events = response["stream"]
            for event in events:
                yield from acc.feed(event)
            completion = acc.finish()
        except (*_CATCH, ProviderError) as exc:
            err = _map_error(exc)
            if acc.parts or acc.blocks:
                raise _errors.interrupted(err, acc.text) from None
            raise err from None
        finally:
            if events is not None:
                events.close()
        yield completion

    def close(self) -> None:
        self.client.close()
