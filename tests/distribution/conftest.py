"""The package as a user gets it: ``python -m build`` output, and one clean virtualenv where the
sdist was installed with ``pip install .`` the way the Dockerfile installs it.

Building and installing take about a minute, so both are session fixtures shared by every
test here. The virtualenv lives outside the checkout and has no path back to it, so what
runs there uses only what the package shipped. ``container_env`` is the Dockerfile's own
runtime environment with ``/data`` and ``/opt/gateway`` moved into temporary directories.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import dockerfile_facts as df
import pytest

ROOT = df.ROOT
INSTALL_TIMEOUT_S = 600


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> Dists:
    """``python -m build``: the sdist, then a wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=INSTALL_TIMEOUT_S)
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return Dists(sdist=sdists[0], wheel=wheels[0])


@pytest.fixture(scope="session")
def installed(dists, tmp_path_factory) -> Installed:
    """A fresh virtualenv with the unpacked sdist installed by ``pip install .``."""
    base = tmp_path_factory.mktemp("installed")
    with tarfile.open(dists.sdist) as tar:
        # The "data" filter (refuse links and paths outside the target) exists from 3.11.4 on.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(base / "src", **safe)
    (source,) = (base / "src").iterdir()
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "."], cwd=source, env=env, timeout=INSTALL_TIMEOUT_S)
    return Installed(venv=venv)


def container_env(installed: Installed, data: Path, **extra: str) -> dict[str, str]:
    """The runtime stage's ENV with its directories mapped here, plus what a test needs."""
    moved = {"/opt/gateway": str(installed.venv), "/data": str(data)}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for key, value in df.stages()[-1].env().items():
        value = value.replace("$PATH", env["PATH"])
        for old, new in moved.items():
            value = value.replace(old, new)
        env[key] = value
    if "TIKTOKEN_CACHE_DIR" in os.environ:  # the offline tokenizer files; nothing downloads
        env["TIKTOKEN_CACHE_DIR"] = os.environ["TIKTOKEN_CACHE_DIR"]
    (data / "tmp").mkdir(parents=True, exist_ok=True)
    return {**env, **extra}


def tree_state(path: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``path``: a cheap check that nothing wrote there."""
    state = {}
    for dirpath, _, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            state[os.path.relpath(full, path)] = (st.st_size, st.st_mtime_ns)
    return state
