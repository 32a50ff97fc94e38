"""Where a candidate runs, as the geography code routing policies compare (``"eu"``, ``"us"``...).

Policies reason about geographies, not cloud region names, so every candidate's region is
reduced to one code: ``eu`` (EU member states), ``us``, ``uk``, ``ch``, ``no``, ``ca``,
``apac``, ``sa``, ``mx``, ``me``, ``af``, ``cn``, ``global`` (may run anywhere), or
``unknown``. Non-EU European countries keep their own code even where a cloud files them
under "eu" (AWS's London region is ``eu-west-2``), because residency rules are about law,
not naming. A name this module does not know is ``unknown``, which a residency policy
treats as outside every geography. These are pure functions over configuration strings;
the provider classes call them with their settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError

UNKNOWN = "unknown"

# AWS region name prefix -> geography, with the exceptions that are not in the EU.
_AWS_PREFIXES = {
    "us": "us",
    "eu": "eu",
    "ap": "apac",
    "ca": "ca",
    "sa": "sa",
    "me": "me",
    "il": "me",
    "af": "af",
    "mx": "mx",
    "cn": "cn",
    "eusc": "eu",
}
_AWS_EXCEPTIONS = {"eu-west-2": "uk", "eu-central-2": "ch"}
# Bedrock cross-region inference profiles: the id's first segment names the geography.
_PROFILE_PREFIXES = {
    "us": "us",
    "us-gov": "us",
    "eu": "eu",
    "apac": "apac",
    "jp": "apac",
    "au": "apac",
    "ca": "ca",
    "global": "global",
}
# Azure region names by prefix (longest first wins); data-zone and global deployments
# are configured with the geography code itself.
_AZURE_PREFIXES = (
    ("westeurope", "eu"),
    ("northeurope", "eu"),
    ("france", "eu"),
    ("germany", "eu"),
    ("sweden", "eu"),
    ("poland", "eu"),
    ("italy", "eu"),
    ("spain", "eu"),
    ("austria", "eu"),
    ("belgium", "eu"),
    ("denmark", "eu"),
    ("finland", "eu"),
    ("greece", "eu"),
    ("uk", "uk"),
    ("switzerland", "ch"),
    ("norway", "no"),
    ("eastus", "us"),
    ("westus", "us"),
    ("centralus", "us"),
    ("northcentralus", "us"),
    ("southcentralus", "us"),
    ("westcentralus", "us"),
    ("canada", "ca"),
    ("japan", "apac"),
    ("australia", "apac"),
    ("korea", "apac"),
    ("southeastasia", "apac"),
    ("eastasia", "apac"),
    ("centralindia", "apac"),
    ("southindia", "apac"),
    ("westindia", "apac"),
    ("jioindia", "apac"),
    ("newzealand", "apac"),
    ("indonesia", "apac"),
    ("malaysia", "apac"),
    ("taiwan", "apac"),
    ("brazil", "sa"),
    ("mexico", "mx"),
    ("uae", "me"),
    ("qatar", "me"),
    ("israel", "me"),
    ("saudiarabia", "me"),
    ("southafrica", "af"),
)
GEOGRAPHIES = frozenset({"eu", "us", "uk", "ch", "no", "ca", "apac", "sa", "mx", "me", "af", "cn", "global"})


def aws_geography(region: str | None) -> str:
    """``eu-central-1`` -> ``eu``; ``eu-west-2`` (London) -> ``uk``; ``us-gov-west-1`` -> ``us``."""
    name = (region or "").strip().lower()
    if name in _AWS_EXCEPTIONS:
        return _AWS_EXCEPTIONS[name]
    if name in GEOGRAPHIES:
        return name
    head, sep, _ = name.partition("-")
    return _AWS_PREFIXES.get(head, UNKNOWN) if sep else UNKNOWN


def bedrock_region(model_id: str, client_region: str | None) -> str:
    """Where a Bedrock model id runs: its inference-profile geography, else the client's region.

    ``eu.anthropic.claude-...`` runs somewhere in the EU whatever region the client calls;
    a plain model id runs in the client's region; an ARN names its own region, unless it is
    a cross-region profile (``.../inference-profile/eu.anthropic...``).
    """
    model = (model_id or "").strip()
    region = client_region
    if model.startswith("arn:"):
        fields = model.split(":", 5)
        region = fields[3] if len(fields) > 3 and fields[3] else client_region
        model = fields[5].rsplit("/", 1)[-1] if len(fields) > 5 else ""
    head, sep, _ = model.partition(".")
    if sep and head.lower() in _PROFILE_PREFIXES:
        return _PROFILE_PREFIXES[head.lower()]
    return aws_geography(region)


def azure_geography(region: str | None) -> str:
    """``West Europe`` / ``westeurope`` -> ``eu``; ``eastus2`` -> ``us``; a geography code stays."""
    name = (region or "").strip().lower().replace(" ", "").replace("-", "")
    if name in GEOGRAPHIES:
        return name
    for prefix, geography in _AZURE_PREFIXES:
        if name.startswith(prefix):
            return geography
    return UNKNOWN


def parse_region_map(text: str | None, variable: str) -> dict[str, str]:
    """``"dep1=westeurope, dep2=eu"`` -> ``{"dep1": "westeurope", "dep2": "eu"}``."""
    pairs: dict[str, str] = {}
    for item in (p.strip() for p in (text or "").split(",")):
        if not item:
            continue
        deployment, sep, region = (s.strip() for s in item.partition("="))
        if not sep or not deployment or not region:
            raise ConfigError(variable, f"expected deployment=region, got {item!r}")
        pairs[deployment] = region
    return pairs


def azure_region(
    deployment: str, *, default_region: str | None = None, deployment_regions: Mapping[str, str] | None = None
) -> str:
    """A deployment's geography: its entry in the per-deployment map, else the resource's region."""
    configured = (deployment_regions or {}).get(deployment) or default_region
    return azure_geography(configured)
