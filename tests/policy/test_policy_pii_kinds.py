"""The PII kinds a policy sees are the kinds the log masking finds, reported without masking."""

from __future__ import annotations

import pytest

from gateway_core.redact import mask_content, pii_kinds

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("Summarise this meeting.", ()),
        ("Write to ana.lopez@example.com", ("email",)),
        ("Call +33 1 42 68 53 00 or (415) 555-0132", ("phone",)),
        ("Card 4111 1111 1111 1111 expires soon", ("card",)),
        ("My key is sk-abcdefghijklmnopqrstuvwx", ("secret",)),
        ("AWS AKIAABCDEFGHIJKLMNOP", ("secret",)),
        (f"Bearer {JWT}", ("jwt",)),
        ("ana@example.com, 4111-1111-1111-1111, +44 20 7946 0958", ("email", "card", "phone")),
        ("Meeting on 2024-01-15 about 12345 units", ()),
        ("", ()),
        (None, ()),
    ],
)
def test_pii_kinds_name_what_masking_would_hide(text, kinds):
    assert pii_kinds(text) == kinds
    # A kind is reported exactly when masking changes the text.
    assert bool(kinds) == (mask_content(text) != text)
