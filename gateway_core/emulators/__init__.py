"""Loopback emulators of Azure OpenAI chat completions and the AWS Bedrock runtime.

They speak the real wire protocols (docs/wire.md), so the official ``openai`` and ``boto3``
SDKs talk to them unchanged - demo mode, tests and benchmarks all run offline. Faults (errors,
hangs, stream cuts, extra latency) and latency profiles can be changed at run time through
the handle or the ``/_emulator/…`` admin routes.

::

    from gateway_core.emulators import start_emulators
    with start_emulators(profile="zero") as emu:
        emu.azure.url, emu.bedrock.url
        emu.azure.set_faults(status=429, error_rate=0.5, seed=1)
        emu.bedrock.stats()["requests"]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from .azure.handler import AzureHandler, Quota
from .azure.wire import deployment_table
from .bedrock.handler import BedrockHandler
from .bedrock.models import model_table
from .faults import FaultError
from .latency import PROFILES, Timing
from .server import Emulator
from .tokens import warm

__all__ = ["Emulator", "Emulators", "FaultError", "PROFILES", "Timing", "start_emulators"]


class Emulators:
    """The running emulators: ``.azure`` and ``.bedrock`` (None when not started), also
    reachable by name with ``get``. Use as a context manager or call ``close()``."""

    def __init__(self, azure: Emulator | None, bedrock: Emulator | None) -> None:
        self.azure, self.bedrock = azure, bedrock

    def get(self, name: str) -> Emulator | None:
        return {"azure": self.azure, "bedrock": self.bedrock}.get(name)

    def running(self) -> dict[str, Emulator]:
        """Name -> handle of every emulator that was started."""
        return {name: emu for name, emu in (("azure", self.azure), ("bedrock", self.bedrock)) if emu is not None}

    def close(self) -> None:
        for emu in self.running().values():
            emu.close()

    def __enter__(self) -> Emulators:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_emulators(
    profile: str | Timing = "zero",
    host: str = "127.0.0.1",
    azure_port: int = 0,
    bedrock_port: int = 0,
    azure_deployments: Mapping[str, str] | Iterable[str] | None = None,
    bedrock_models: Mapping[str, dict] | Iterable[str] | None = None,
    azure_api_key: str | None = None,
    providers: Iterable[str] = ("azure", "bedrock"),
    models: Mapping[str, object] | None = None,
) -> Emulators:
    """Start the emulators on ``host`` (port 0 = any free port) and return their handle.

    ``azure_deployments``: deployment -> model version (or a known model name), or a list of
    names; default: the priced models under their own names. ``bedrock_models``: a list of
    ids replaces the model table, a mapping id -> row fields extends it. ``azure_api_key``:
    when set, any other key gets 401; otherwise any non-empty key is accepted.
    ``models``, when given, names the emulators to start and gives each its model table
    (the ``azure_deployments`` / ``bedrock_models`` value; None for the default).
    """
    if models is not None:
        providers = tuple(models)
        azure_deployments = models.get("azure", azure_deployments)
        bedrock_models = models.get("bedrock", bedrock_models)
    providers = tuple(providers)
    unknown = set(providers) - {"azure", "bedrock"}
    if unknown:
        raise ValueError(f"unknown provider(s): {', '.join(sorted(unknown))}")
    if not isinstance(profile, Timing) and profile not in PROFILES:
        raise ValueError(f"unknown latency profile {profile!r}; known: {', '.join(PROFILES)}")
    azure = bedrock = None
    try:
        if "azure" in providers:
            config = {"deployments": deployment_table(azure_deployments), "api_key": azure_api_key, "quota": Quota()}
            azure = Emulator("azure", AzureHandler, host, azure_port, profile, config)
            threading.Thread(target=warm, name="tiktoken-warm-up", daemon=True).start()
        if "bedrock" in providers:
            bedrock = Emulator("bedrock", BedrockHandler, host, bedrock_port, profile, {"models": model_table(bedrock_models)})
    except BaseException:
        Emulators(azure, bedrock).close()
        raise
    return Emulators(azure, bedrock)
