"""LiteLLM beside the gateway for ``python -m bench --peers``: its SDK and its proxy, same emulators.

The comparison only means something when both run in the same process or on the same
machine, in the same rounds, against the same zero-latency emulator; so B1 calls
``completion()`` as one more shuffled arm, and B6 runs LiteLLM's proxy as one more
server. Only the bench imports this module: LiteLLM is an optional extra (``peers``), never
a dependency of the gateway. Without it installed, ``available`` says so and the peer arms
are left out of the run, with a note in the result.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from . import common

# LiteLLM fetches its price map from the internet on import unless told to use its bundled copy.
OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
PROXY_MODEL = "peer-azure"
PROXY_KEY = "sk-bench-peer-0123456789abcdef0123456789abcdef"  # the proxy refuses to start without one
PROXY_START_S = 180  # importing the proxy takes tens of seconds on a busy 2-core machine


def available() -> bool:
    return importlib.util.find_spec("litellm") is not None


def version() -> str | None:
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return None


def _offline() -> None:
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def sdk_caller(azure_url: str, deployment: str, api_version: str, messages: list[dict], max_tokens: int):
    """``litellm.completion`` against the Azure emulator, returning what the other arms return."""
    _offline()
    import litellm

    litellm.telemetry = False

    def call():
        r = litellm.completion(
            model=f"azure/{deployment}",
            messages=messages,
            max_tokens=max_tokens,
            api_base=azure_url,
            api_key="emulated-key",
            api_version=api_version,
            num_retries=0,
        )
        return r.choices[0].message.content, r.usage.completion_tokens

    return call


def _proxy_config(path: Path, azure_url: str, deployment: str, api_version: str) -> Path:
    # Written by hand: a flat YAML document needs no YAML library in the bench.
    path.write_text(
        "model_list:\n"
        f"  - model_name: {PROXY_MODEL}\n"
        "    litellm_params:\n"
        f"      model: azure/{deployment}\n"
        f"      api_base: {azure_url}\n"
        "      api_key: emulated-key\n"
        f'      api_version: "{api_version}"\n'
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  num_retries: 0\n"
    )
    return path


def start_proxy(cfg: common.Config, azure_url: str, deployment: str, api_version: str) -> tuple[subprocess.Popen, str]:
    """LiteLLM's proxy (one worker) on a free loopback port; (process, base URL)."""
    config = _proxy_config(cfg.work_dir / "litellm_proxy.yaml", azure_url, deployment, api_version)
    port = common.free_port()
    env = {**os.environ, **OFFLINE_ENV, "LITELLM_MASTER_KEY": PROXY_KEY}
    cli = Path(sys.executable).with_name("litellm")
    log = open(cfg.work_dir / "litellm_proxy.log", "wb")
    proc = subprocess.Popen(
        [str(cli), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        common.wait_http_ok(base + "/health/liveliness", PROXY_START_S, proc)
    except Exception as e:
        common.stop_process(proc)
        tail = (cfg.work_dir / "litellm_proxy.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"LiteLLM's proxy did not start: {tail}") from e
    return proc, base
