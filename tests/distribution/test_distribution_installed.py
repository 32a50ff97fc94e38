"""The built distributions and the package installed from them, used outside the checkout the
way the container uses it: metadata, shipped files, the image's command, the console."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import dockerfile_facts as df

from .conftest import ROOT, container_env, tree_state

PROBE = Path(__file__).with_name("installed_console_probe.py")
REPO_PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(z.read(name).decode())


def test_wheel_metadata_has_an_spdx_license_urls_and_classifiers(dists):
    meta = _metadata(dists.wheel)
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    assert meta["License"] is None  # the deprecated free-text field is gone
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers and "Programming Language :: Python :: 3.11" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # superseded by the SPDX expression
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues"} <= set(urls) and all(u.startswith("https://") for u in urls.values())


def test_wheel_ships_the_console_pages_the_price_table_and_the_typing_marker(dists):
    with zipfile.ZipFile(dists.wheel) as z:
        names = set(z.namelist())
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("console/pages/")) == REPO_PAGES
    data_files = {"gateway_core/py.typed", "gateway_core/prices.toml", "gateway_core/usage/demo_traffic.toml"}
    assert data_files | {"console/app.py", "console/static/favicon.png"} <= names  # the favicon is served locally
    assert not [n for n in names if n.startswith(("pages/", "tests/", "bench/"))]


def test_sdist_holds_what_a_build_needs_and_no_partial_test_suite(dists):
    with tarfile.open(dists.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"pyproject.toml", "setup.py", "LICENSE", "README.md", "gateway_core/py.typed"} <= names
    assert {f"pages/{p}" for p in REPO_PAGES} <= names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_images_command_answers_help_from_the_installed_package(installed, tmp_path):
    cmd = df.exec_form(df.stages()[-1].last("CMD"))
    env = container_env(installed, tmp_path)
    done = subprocess.run([*cmd, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: gateway console" in done.stdout and "--port" in done.stdout and "--host" in done.stdout
    assert shutil.which(cmd[0], path=env["PATH"]) == str(installed.bin / cmd[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _installed_probe(installed, env: dict) -> list[str]:
    """The HEALTHCHECK command with /opt/gateway moved to the virtualenv, as the image copies it."""
    probe = df.exec_form(df.stages()[-1].last("HEALTHCHECK"))
    target = Path(probe[1].replace("/opt/gateway", str(installed.venv)))
    shutil.copyfile(ROOT / "docker" / "healthcheck.py", target)
    return [shutil.which(probe[0], path=env["PATH"]), str(target)]


def test_the_images_command_serves_the_console_from_the_installed_package(installed, tmp_path):
    cmd = df.exec_form(df.stages()[-1].last("CMD"))
    port = _free_port()
    cmd[cmd.index("--port") + 1], cmd[cmd.index("--host") + 1] = str(port), "127.0.0.1"  # loopback in tests
    health = f"http://127.0.0.1:{port}/_stcore/health"
    env = container_env(installed, tmp_path, GATEWAY_MODE="demo", GATEWAY_HEALTH_URL=health)
    probe = _installed_probe(installed, env)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert subprocess.run(probe, env=env, timeout=30).returncode == 1  # not up yet: unhealthy
        deadline = time.monotonic() + 90
        while subprocess.run(probe, env=env, timeout=30).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}" in out


def test_installed_console_renders_every_shipped_page_and_writes_only_to_its_data_dir(installed, tmp_path):
    data = tmp_path / "data"
    env = container_env(installed, data, GATEWAY_MODE="demo", GATEWAY_EMULATOR_PROFILE="zero")
    before = tree_state(installed.venv)
    done = subprocess.run([installed.python, PROBE], cwd=data, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    site = str(installed.venv / "lib")
    assert report["console"].startswith(site) and report["pages_dir"].startswith(site)
    views = report["views"]
    assert sorted(views) == sorted(["(start)", *(p.removesuffix(".py") for p in REPO_PAGES)])
    for page, view in views.items():
        assert view["exceptions"] == [] and view["errors"] == [], page
        assert view["titles"] and view["titles"][0].lower() == ("playground" if page == "(start)" else page)
    # What a read-only root filesystem demands: the install tree is untouched and the usage
    # log went to the data directory that GATEWAY_DB_PATH names.
    assert tree_state(installed.venv) == before
    assert Path(env["GATEWAY_DB_PATH"]).is_file() and Path(env["GATEWAY_DB_PATH"]).parent == data
