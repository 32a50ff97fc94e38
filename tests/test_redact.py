"""One redaction module, one marker scheme: secrets become [secret], personal data its own kind."""

from __future__ import annotations

import logging

import pytest

from gateway_core.redact import mask_content, protect, sanitize, scrub


def test_scrub_masks_configured_secrets_and_credential_values_but_keeps_their_names():
    text = (
        "key abcd-secret-1234 in api-key: 5f2b9c0d1e and Authorization: Bearer tok_live_99, "
        "Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/bedrock/aws4_request, Signature=9f86d081"
    )
    out = scrub(text, ("abcd-secret-1234",))
    for secret in ("abcd-secret-1234", "5f2b9c0d1e", "tok_live_99", "AKIAIOSFODNN7EXAMPLE", "9f86d081"):
        assert secret not in out
    assert "key [secret]" in out and "api-key: [secret]" in out and "Authorization: Bearer [secret]" in out
    assert "Credential=[secret]/20240101/us-east-1" in out and "Signature=[secret]" in out


def test_scrub_leaves_ordinary_text_and_short_values_alone():
    text = "deployment gpt-4o-mini answered in 120 ms"
    assert scrub(text, ("ab", "")) == text
    assert scrub("x" * 600, (), limit=500) == "x" * 500


def test_sanitize_uses_the_same_marker_for_a_key_like_run_in_a_provider_message():
    out = sanitize("denied for key 0123456789abcdef0123456789abcdef on model anthropic.claude-3-haiku-20240307-v1:0")
    assert out == "denied for key [secret] on model anthropic.claude-3-haiku-20240307-v1:0"


def test_log_records_are_scrubbed_once_protected(caplog):
    protect(("planted-value-31337",))
    with caplog.at_level(logging.INFO, logger="redact-test"):
        logging.getLogger("redact-test").info("sending %s with api-key=%s", "planted-value-31337", "zz99")
    assert caplog.records[-1].getMessage() == "sending [secret] with api-key=[secret]"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("write to jane.doe+x@example.co.uk today", "write to [email] today"),
        ("call +44 20 7946 0958 now", "call [phone] now"),
        ("or (555) 123-4567", "or [phone]"),
        ("card 4111 1111 1111 1111 expires", "card [card] expires"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("key sk-proj-abcDEF1234567890xyz", "key [secret]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [secret]"),
        ("hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "hash [secret]"),
        ("on 2024-01-15 10:30 we sold 12 units for 3.50", "on 2024-01-15 10:30 we sold 12 units for 3.50"),
        ("internationalization_and_localization_matters", "internationalization_and_localization_matters"),
        ("", ""),
    ],
)
def test_mask_content(text, expected):
    assert mask_content(text) == expected


def test_scrub_masks_a_gateway_api_key_but_keeps_its_public_id():
    from gateway_core.governance.keys import new_key

    key = new_key("abcdefgh23")
    out = scrub(f"client sent {key} twice")
    assert out == "client sent gwk_abcdefgh23_[secret] twice"
    assert key.split("_", 2)[2] not in mask_content(f"my key is {key}")
