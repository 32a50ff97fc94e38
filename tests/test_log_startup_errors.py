"""A usage log that cannot be opened or a spill directory that cannot be written stops the
gateway at start-up with one line naming the variable and the path, from every entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from gateway_fixtures import demo_env
from storage_faults import immutable, require_immutable

from gateway_core import ConfigError, Gateway
from gateway_core.config import Settings

# name -> (variable at fault, expected words in the reason)
CASES = {
    "db_dir_missing": ("GATEWAY_DB_PATH", "directory does not exist"),
    "db_is_a_directory": ("GATEWAY_DB_PATH", "is a directory"),
    "db_dir_read_only": ("GATEWAY_DB_PATH", "cannot be created in its directory"),
    "db_file_read_only": ("GATEWAY_DB_PATH", "read-only"),
    "spill_is_a_file": ("GATEWAY_SPILL_DIR", "File exists"),
    "spill_dir_read_only": ("GATEWAY_SPILL_DIR", "Operation not permitted"),
}


def _bad_setup(tmp_path: Path, case: str, stack: ExitStack) -> tuple[dict, Path]:
    """The environment for ``case`` and the path the error must name; read-only means
    immutable (the suite runs as root, which permissions do not stop)."""
    db, spill = tmp_path / "data" / "log.sqlite", tmp_path / "spill"
    db.parent.mkdir()
    bad = {"db_dir_missing": tmp_path / "nowhere" / "log.sqlite", "db_is_a_directory": db.parent}.get(case, db)
    if case in ("db_dir_read_only", "db_file_read_only", "spill_dir_read_only"):
        require_immutable(tmp_path)
    if case == "db_dir_read_only":
        stack.enter_context(immutable(db.parent))
    elif case == "db_file_read_only":
        Gateway.from_env(demo_env(db, GATEWAY_SPILL_DIR=str(spill)), dotenv_path=None).close()
        stack.enter_context(immutable(db, Path(f"{db}-wal"), db.parent))
    elif case == "spill_is_a_file":
        spill.write_text("not a directory")
    elif case == "spill_dir_read_only":
        spill.mkdir()
        stack.enter_context(immutable(spill))
    env = demo_env(bad, GATEWAY_SPILL_DIR=str(spill))
    return env, (spill if CASES[case][0] == "GATEWAY_SPILL_DIR" else bad)


@pytest.fixture(params=sorted(CASES))
def bad(request, tmp_path):
    with ExitStack() as stack:
        env, path = _bad_setup(tmp_path, request.param, stack)
        yield request.param, env, path


def _assert_one_line(text: str, case: str, path: Path) -> None:
    variable, words = CASES[case]
    assert "Traceback" not in text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert variable in lines[0] and str(path) in lines[0] and words in lines[0], lines[0]


def test_the_python_api_raises_a_config_error_naming_variable_and_path(bad):
    case, env, path = bad
    with pytest.raises(ConfigError) as raised:
        Gateway.from_env(env, dotenv_path=None)
    assert raised.value.variable == CASES[case][0]
    _assert_one_line(raised.value.message, case, path)


def _cli(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "command", [("generate", "hello"), ("serve", "--port", "0"), ("console", "--port", "0"), ("seed-demo", "--requests", "1")]
)
def test_every_cli_entry_point_prints_one_line_and_exits_2(tmp_path, command):
    with ExitStack() as stack:
        for case in ("db_dir_read_only", "spill_is_a_file"):
            work = tmp_path / f"{case}-{command[0]}"
            work.mkdir()
            env, path = _bad_setup(work, case, stack)
            out = _cli(env, *command, cwd=work)
            assert out.returncode == 2, out.stderr[-2000:]
            assert out.stdout == ""
            _assert_one_line(out.stderr, case, path)
            assert out.stderr.startswith("error: ")


def test_the_rest_api_app_refuses_to_build_with_the_variable_named(tmp_path):
    from gateway_core.api import create_app

    with ExitStack() as stack:
        env, path = _bad_setup(tmp_path, "db_dir_read_only", stack)
        with pytest.raises(ConfigError) as raised:
            create_app(settings=Settings.from_mapping(env))
    _assert_one_line(raised.value.message, "db_dir_read_only", path)
