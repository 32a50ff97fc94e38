"""The public surface is explicit and stable: README and users rely on these names."""

import gateway_core

EXPECTED = {
    "AllProvidersFailed",
    "AuditLogUnavailable",
    "Attempt",
    "AuthFailed",
    "BadRequest",
    "ChatMessage",
    "ConfigError",
    "ContentFiltered",
    "ContextTooLong",
    "Gateway",
    "GatewayError",
    "GatewayStream",
    "GenerateRequest",
    "GenerateResult",
    "ModelNotFound",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ResponseFormat",
    "Settings",
    "StreamInterrupted",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "ValidationError",
}


def test_all_lists_exactly_the_public_names():
    assert set(gateway_core.__all__) == EXPECTED


def test_every_public_name_resolves():
    for name in gateway_core.__all__:
        assert getattr(gateway_core, name) is not None


def test_library_never_imports_streamlit():
    import pathlib

    root = pathlib.Path(gateway_core.__file__).parent
    offenders = [p.name for p in root.rglob("*.py") if "import streamlit" in p.read_text() or "from streamlit" in p.read_text()]
    assert offenders == []
