"""What the usage log keeps of prompts and answers, proven on the database's bytes.

By default no prompt or response text is stored at all. With ``GATEWAY_STORE_CONTENT=true``
content is stored, but emails, phone numbers, card-like numbers and key-like strings are
masked first, in prompts and in answers (the summariser echoes the prompt back).
"""

from __future__ import annotations

from gateway_fixtures import demo_gateway, log_rows
from reliability_support import db_bytes

from gateway_core import GenerateRequest

NEUTRAL = "Quarterly-Zebra-Report"
SENSITIVE = {
    "email": "jane.doe+billing@example-corp.co.uk",
    "phone_intl": "+44 20 7946 0958",
    "phone_us": "(415) 555-0132",
    "phone_fr": "+33 1 42 68 53 00",
    "card": "4111 1111 1111 1111",
    "card_dashed": "5500-0000-0000-0004",
    "openai_key": "sk-proj-Zx81QwErTy56UiOpAsDfGhJkL0987",
    "aws_key_id": "AKIAZQ3EXAMPLE7XK2QA",
    "token": "ghp_9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a",
}

# Fragments that would survive a half-done mask (one group masked, the rest kept).
FRAGMENTS = (
    "jane.doe+billing",
    "7946 0958",
    "555-0132",
    "42 68 53 00",
    "1111 1111 1111",
    "0000-0000-0004",
    "Zx81QwErTy56",
    "EXAMPLE7XK2QA",
    "9f8e7d6c5b4a3f2e",
)


def pii_paragraph() -> str:
    s = SENSITIVE
    return (
        f"{NEUTRAL}: Jane wrote from {s['email']} and asked us to call {s['phone_intl']}, {s['phone_us']} or the Paris office on {s['phone_fr']}. "
        f"She paid with card {s['card']} and the backup card {s['card_dashed']}. "
        f"The build used the key {s['openai_key']} and the access key {s['aws_key_id']}. "
        f"The deploy token was {s['token']}. The budget review is on 2026-03-14 with 12 attendees."
    )


def send_traffic(gw) -> None:
    text = pii_paragraph()
    gw.generate(GenerateRequest(prompt="Summarise: " + text, task="summarise"))
    "".join(gw.stream(GenerateRequest(prompt=text, task="rewrite", provider_hint="bedrock")))
    gw.generate(GenerateRequest(prompt=text, task="extract", provider_hint="azure"))


def test_by_default_no_prompt_or_response_text_is_stored(tmp_path):
    db = tmp_path / "default.sqlite"
    gw = demo_gateway(db)
    send_traffic(gw)
    gw.close()
    raw = db_bytes(db)
    assert len(log_rows(db)) == 3
    assert NEUTRAL.encode() not in raw, "prompt text reached the database with content storage off"
    for name, value in SENSITIVE.items():
        assert value.encode() not in raw, f"{name} stored with content storage off"
    assert all(r["prompt_text"] is None and r["response_text"] is None for r in log_rows(db))


def test_stored_content_is_masked_in_prompts_and_answers(tmp_path):
    db = tmp_path / "stored.sqlite"
    gw = demo_gateway(db, GATEWAY_STORE_CONTENT="true")
    send_traffic(gw)
    gw.close()
    raw = db_bytes(db)
    rows = log_rows(db)
    assert all(NEUTRAL in (r["prompt_text"] or "") for r in rows), "content storage on, but prompts are missing"
    assert any(NEUTRAL in (r["response_text"] or "") for r in rows), "the summary should echo the neutral text"
    leaked = [name for name, value in SENSITIVE.items() if value.encode() in raw]
    assert not leaked, f"stored unmasked: {leaked}"
    partial = [f for f in FRAGMENTS if f.encode() in raw]
    assert not partial, f"stored half-masked: {partial}"
    # Masking must not eat ordinary numbers: dates and small counts stay readable.
    assert any("2026-03-14" in (r["prompt_text"] or "") and "12 attendees" in (r["prompt_text"] or "") for r in rows)
