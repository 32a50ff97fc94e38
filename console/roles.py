"""Console roles, pure: who is an admin, an operator or a viewer, and what each may see and do.

A signed-in user's role comes from the identity claims the OIDC provider sent (``st.user``)
and three settings: ``GATEWAY_CONSOLE_ADMINS`` and ``GATEWAY_CONSOLE_OPERATORS`` list e-mail
addresses or values of the role claim (``GATEWAY_CONSOLE_ROLE_CLAIM``, default ``groups``),
compared without regard to case. The highest role that matches wins; everyone else who
signed in is a viewer. An e-mail address counts only when the provider has not said it is
unverified, because some user pools let anyone sign up with any address.

Each page and each control names an *ability*; ``ABILITIES`` says which role it needs, and
roles are ordered, so an admin can do everything an operator can. ``usable_keys`` says which
API keys a person may run the Playground and Compare under: an admin any active key, anyone
else the active keys bound to their address or belonging to a team named in their role
claim. Nothing here imports Streamlit: the table tests feed plain dictionaries and records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)  # ascending: each includes the ones before it

ABILITIES = {
    # pages
    "playground": VIEWER,
    "compare": VIEWER,
    "analytics": VIEWER,
    "requests": VIEWER,
    "providers": OPERATOR,
    "governance": ADMIN,
    "policies": ADMIN,
    # controls
    "content": OPERATOR,  # stored prompt and answer text, and searching it
    "vote": OPERATOR,
    "chaos": OPERATOR,
    "demo_data": OPERATOR,
    "keys": ADMIN,
    "budgets": ADMIN,
    "policy": ADMIN,
}
PAGE_ABILITY_DEFAULT = ADMIN  # a page not listed above is for admins until someone says otherwise


@dataclass(frozen=True)
class RoleRules:
    admins: frozenset[str] = frozenset()
    operators: frozenset[str] = frozenset()
    claim: str = "groups"

    @classmethod
    def of(cls, admins: Iterable[str], operators: Iterable[str], claim: str = "groups") -> RoleRules:
        return cls(_folded(admins), _folded(operators), claim)

    @classmethod
    def from_settings(cls, settings) -> RoleRules:
        return cls.of(settings.console_admins, settings.console_operators, settings.console_role_claim)


@dataclass(frozen=True)
class Identity:
    """Who is using the console. ``signed_in`` is False in open mode (no sign-in configured),
    where everyone is an admin; ``email`` is then None."""

    role: str
    name: str
    email: str | None = None
    signed_in: bool = False
    groups: frozenset[str] = frozenset()  # the role claim's values, folded to lower case

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return self.email or ("anonymous (no sign-in configured)" if not self.signed_in else self.name)

    @property
    def request_user(self) -> str:
        """The ``user`` recorded on requests made from the console."""
        return self.email or "console"


OPEN = Identity(ADMIN, "anyone (no sign-in)")


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if isinstance(v, str) and v.strip())


def claim_values(value: Any) -> frozenset[str]:
    """A claim as a set of names: a list of strings, or one string of comma-separated names."""
    if isinstance(value, str):
        return _folded(value.split(","))
    if isinstance(value, (list, tuple, set, frozenset)):
        return _folded(v for v in value if isinstance(v, str))
    return frozenset()


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    verified = claims.get("email_verified", True)
    if verified is False or (isinstance(verified, str) and verified.strip().lower() == "false"):
        return None
    return email.strip()


def role_of(claims: Mapping[str, Any], rules: RoleRules) -> str | None:
    """The role of the signed-in user ``claims`` describe; None when nobody is signed in."""
    if claims.get("is_logged_in") is not True:
        return None
    names = claim_values(claims.get(rules.claim))
    email = _verified_email(claims)
    if email:
        names |= {email.casefold()}
    if names & rules.admins:
        return ADMIN
    if names & rules.operators:
        return OPERATOR
    return VIEWER


def identity_of(claims: Mapping[str, Any], rules: RoleRules) -> Identity | None:
    role = role_of(claims, rules)
    if role is None:
        return None
    email = _verified_email(claims)
    shown = next((claims[k] for k in ("name", "email", "preferred_username", "sub") if isinstance(claims.get(k), str)), "")
    return Identity(role, shown.strip() or "signed-in user", email, signed_in=True, groups=claim_values(claims.get(rules.claim)))


def allows(role: str | None, ability: str) -> bool:
    """Whether ``role`` may use ``ability`` (a page or a control)."""
    if role not in ROLES:
        return False
    needed = ABILITIES.get(ability, PAGE_ABILITY_DEFAULT)
    return ROLES.index(role) >= ROLES.index(needed)


def needed_role(ability: str) -> str:
    return ABILITIES.get(ability, PAGE_ABILITY_DEFAULT)


def usable_keys(who: Identity, keys, now: float) -> list[str]:
    """Names of the active keys ``who`` may run requests under, in the order given."""
    email = (who.email or "").casefold()

    def theirs(key) -> bool:
        if who.role == ADMIN:
            return True
        bound = isinstance(key.user, str) and email and key.user.strip().casefold() == email
        return bool(bound) or key.team.casefold() in who.groups

    return [k.name for k in keys if k.state(now) == "active" and theirs(k)]
