"""The usage log as the settings describe it, with start-up errors that name the variable.

Every entry point (the Python API, the CLI, the REST API, the console) builds its log
here, so an unwritable or unopenable ``GATEWAY_DB_PATH`` or ``GATEWAY_SPILL_DIR`` is the
same one-line ``ConfigError`` everywhere, naming the variable and the path.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from .writer import LogStartError, UsageLog, check_storage, default_spill_dir

MB = 1024 * 1024


def spill_dir(settings: Settings) -> Path:
    return Path(settings.spill_dir) if settings.spill_dir else default_spill_dir(settings.db_path)


def start_error(error: LogStartError) -> ConfigError:
    variable = "GATEWAY_DB_PATH" if error.what == "database" else "GATEWAY_SPILL_DIR"
    return ConfigError(variable, f"cannot use the {error.what} at {error.path}: {error.reason}")


def open_usage_log(settings: Settings) -> UsageLog:
    try:
        return UsageLog(
            settings.db_path,
            spill_dir=spill_dir(settings),
            policy=settings.log_failure_policy(),
            busy_timeout_s=settings.db_busy_timeout_s,
            max_db_bytes=int(settings.db_max_mb * MB) if settings.db_max_mb else None,
            queue_max_bytes=int(settings.log_queue_mb * MB),
        )
    except LogStartError as e:
        raise start_error(e) from None


def check_log_storage(settings: Settings) -> None:
    """Raise the ``ConfigError`` a gateway would raise at start-up, without starting one."""
    try:
        check_storage(settings.db_path, spill_dir(settings))
    except LogStartError as e:
        raise start_error(e) from None
