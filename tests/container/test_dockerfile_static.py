"""The image recipe, checked without a Docker engine: lint, build context, stages, user and
the read-only root filesystem. Building and running what it installs is in tests/distribution."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import dockerfile_facts as df
import pytest

HADOLINT = Path(sys.executable).with_name("hadolint")


def _hadolint() -> str:
    if HADOLINT.is_file():
        return str(HADOLINT)
    found = shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed: it comes with the dev extra (pip install -e '.[dev]')")
    return found


def test_hadolint_reports_nothing_at_any_severity():
    done = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(df.DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_hadolint_does_flag_a_recipe_with_known_mistakes(tmp_path):
    # The lint gate above is only worth something if this hadolint flags real mistakes.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nCMD gateway console\n")
    done = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert {"DL3006", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_every_file_the_build_copies_from_the_context_exists_and_is_not_ignored():
    sources = [src for stage in df.stages() for copy in stage.copies() if copy.from_stage is None for src in copy.sources]
    assert "pages" in sources and "gateway_core" in sources
    missing = [src for src in sources if not list(df.ROOT.glob(src))]
    ignored = [src for src in sources if df.ignored(src)]
    assert (missing, ignored) == ([], [])


def test_dockerignore_keeps_secrets_logs_and_environments_out_of_the_context():
    for path in (
        ".env",
        ".env.local",
        "usage_logs.sqlite",
        "usage_logs.sqlite-wal",
        ".venv/bin/python",
        "gateway_core/__pycache__/types.cpython-311.pyc",
        ".git/config",
    ):
        assert df.ignored(path), path
    assert not df.ignored(".env.example") and not df.ignored("pages/playground.py")


def test_build_is_multi_stage_and_the_runtime_takes_only_the_built_environment():
    build, runtime = df.stages()
    assert build.base == runtime.base and build.base.startswith("python:3.11")
    from_build = [c for c in runtime.copies() if c.from_stage == build.name]
    assert [c.sources for c in from_build] == [["/opt/gateway"]]
    # The runtime stage installs nothing: no compiler, pip cache or source tree is left in it.
    assert not any("pip install" in args for args in runtime.all("RUN"))


def test_base_image_digest_pinning_is_explained_and_possible():
    text = df.DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert all(line.split()[1] == "${PYTHON_IMAGE}" for line in text.splitlines() if line.startswith("FROM "))
    note = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "digest" in note and "@sha256:" in note and "--build-arg PYTHON_IMAGE=" in note


def test_runtime_runs_as_a_numeric_non_root_user():
    runtime = df.stages()[-1]
    user = runtime.last("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000)
    assert any(f"--uid {uid}" in args for args in runtime.all("RUN"))


def test_everything_the_container_writes_is_under_data_so_the_root_can_be_read_only():
    runtime = df.stages()[-1]
    env = runtime.env()
    for key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "GATEWAY_DB_PATH"):
        assert env[key] == "/data" or env[key].startswith("/data/"), key
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # no __pycache__ beside the installed code
    assert runtime.last("WORKDIR") == "/data"
    assert re.fullmatch(r'\["/data"\]', runtime.last("VOLUME"))


def test_health_probe_and_default_command_point_at_what_the_image_contains():
    runtime = df.stages()[-1]
    probe = df.exec_form(runtime.last("HEALTHCHECK"))
    copied = {c.dest: c.sources for c in runtime.copies() if c.from_stage is None}
    assert probe[0] == "python" and copied[probe[1]] == ["docker/healthcheck.py"]
    cmd = df.exec_form(runtime.last("CMD"))
    assert cmd[:2] == ["gateway", "console"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert runtime.env()["GATEWAY_HEALTH_URL"].endswith(f":{cmd[cmd.index('--port') + 1]}/_stcore/health")
