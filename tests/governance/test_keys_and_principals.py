"""Key material and principals, pure: format, parsing, hashing, static keys, allow-lists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway_core.errors import ModelNotAllowed
from gateway_core.governance.keys import KEY_PREFIX, StaticKeys, hash_key, hash_matches, key_id_of, new_key, new_key_id
from gateway_core.governance.records import KeyRecord, Principal, TeamRecord, filter_candidates, principal_of

MINI = ("azure", "gpt-4o-mini")
GPT4O = ("azure", "gpt-4o")
HAIKU = ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")
CANDIDATES = [MINI, GPT4O, HAIKU]


def test_a_new_key_is_recognisable_carries_its_public_id_and_is_unguessable():
    key_id = new_key_id()
    key = new_key(key_id)
    assert key.startswith(f"{KEY_PREFIX}_{key_id}_")
    assert key_id_of(key) == key_id
    assert len(key) - len(key_id) - 5 >= 43  # 32 random bytes, url-safe base64
    assert len({new_key(key_id) for _ in range(50)}) == 50
    assert len({new_key_id() for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "gwk",
        "gwk_",
        "gwk_abcdefghij",
        "gwk_abcdefghij_",
        "gwk_abcdefghij_short",
        "sk_abcdefghij_" + "x" * 43,
        "gwk_ABCDEFGHIJ_" + "x" * 43,
        "gwk_abcdefgh1j_" + "x" * 43,
        "gwk_abc_" + "x" * 43,
        "Bearer gwk_abcdefghij_" + "x" * 43,
    ],
)
def test_malformed_keys_have_no_key_id(text):
    assert key_id_of(text) is None


def test_only_the_exact_key_matches_its_hash():
    key = new_key(new_key_id())
    stored = hash_key(key)
    assert hash_matches(key, stored)
    assert not hash_matches(key[:-1] + ("A" if key[-1] != "A" else "B"), stored)
    assert key not in stored and key.split("_", 2)[2] not in stored


def test_static_keys_match_by_position_without_keeping_the_key():
    keys = StaticKeys(("alpha-static-key", "beta-static-key"))
    assert keys.match("beta-static-key") == 2
    assert keys.match("alpha-static-key") == 1
    assert keys.match("gamma") is None
    assert "alpha-static-key" not in repr(vars(keys))
    assert StaticKeys().match("anything") is None


def _key(**kw) -> KeyRecord:
    base = dict(key_id="abcdefghij", name="ci-bot", team="ml", key_hash="0" * 64)
    base.update(kw)
    return KeyRecord(**base)


def test_a_principal_carries_the_key_limits_then_the_team_limits():
    team = TeamRecord("ml", budget_usd=Decimal("100"), budget_period="month", rpm=600, tpm=None)
    p = principal_of(_key(budget_usd=Decimal("5"), budget_period="day", soft=0.5, tpm=20_000, user="ana"), team)
    assert (p.key_name, p.key_id, p.team, p.user) == ("ci-bot", "abcdefghij", "ml", "ana")
    assert [(b.owner, b.scope, b.period, b.soft) for b in p.budgets] == [
        ("key:ci-bot", "key:abcdefghij", "day", 0.5),
        ("team:ml", "team:ml", "month", 0.8),
    ]
    assert [(r.owner, r.metric, r.limit) for r in p.rates] == [("key:ci-bot", "tokens", 20_000), ("team:ml", "requests", 600)]
    assert principal_of(_key(), None).budgets == () and not principal_of(_key(), None).budgeted


@pytest.mark.parametrize(
    "providers, models, pinned, expected",
    [
        (None, None, None, CANDIDATES),
        (("azure",), None, None, [MINI, GPT4O]),
        (None, ("gpt-4o-mini", "anthropic.claude-3-haiku-20240307-v1:0"), None, [MINI, HAIKU]),
        (("bedrock",), ("gpt-4o-mini", "anthropic.claude-3-haiku-20240307-v1:0"), None, [HAIKU]),
        (None, ("gpt-4o-mini",), "gpt-4o-mini", [MINI]),
    ],
)
def test_allow_lists_keep_only_permitted_candidates(providers, models, pinned, expected):
    p = Principal(
        "k",
        "id",
        "t",
        providers=None if providers is None else frozenset(providers),
        models=None if models is None else frozenset(models),
    )
    assert filter_candidates(p, CANDIDATES, pinned=pinned) == expected


def test_a_pinned_model_outside_the_allow_list_is_refused_by_name():
    p = Principal("ci-bot", "id", "t", models=frozenset({"gpt-4o-mini"}))
    with pytest.raises(ModelNotAllowed) as e:
        filter_candidates(p, CANDIDATES, pinned="gpt-4o")
    assert (e.value.status, e.value.code, e.value.model) == (403, "model_not_allowed", "gpt-4o")
    assert "gpt-4o" in e.value.message and "ci-bot" in e.value.message


def test_a_key_allowed_nothing_configured_is_refused():
    p = Principal("ci-bot", "id", "t", providers=frozenset({"azure"}), models=frozenset({"claude-x"}))
    with pytest.raises(ModelNotAllowed):
        filter_candidates(p, CANDIDATES)


def test_under_a_budget_unpriced_models_are_left_out_and_cannot_be_pinned():
    from gateway_core.governance.budgets import BudgetLimit

    p = Principal("ci-bot", "id", "t", budgets=(BudgetLimit("team:t", "team:t", 10, "month"),))
    priced = lambda provider, model: model != "gpt-4o"  # noqa: E731
    assert filter_candidates(p, CANDIDATES, priced=priced) == [MINI, HAIKU]
    with pytest.raises(ModelNotAllowed) as e:
        filter_candidates(p, CANDIDATES, priced=priced, pinned="gpt-4o")
    assert "unpriced" in e.value.message
    unbudgeted = Principal("free", "id", "t")
    assert filter_candidates(unbudgeted, CANDIDATES, priced=priced) == CANDIDATES
