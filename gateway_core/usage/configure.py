"""The usage log as the settings describe it, with start-up errors that name the variable.

Every entry point (the Python API, the CLI, the REST API, the console) builds its log
here, so an unwritable or unopenable ``GATEWAY_DB_PATH`` (or unreachable ``GATEWAY_DB_URL``)
or ``GATEWAY_SPILL_DIR`` is the same one-line ``ConfigError`` everywhere, naming the
variable and the place (a URL without its password).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from .writer import LogStartError, UsageLog, check_storage, default_spill_dir

MB = 1024 * 1024


def spill_dir(settings: Settings) -> Path:
    """``GATEWAY_SPILL_DIR``, else beside the SQLite file (even when the log is in PostgreSQL:
    ``GATEWAY_DB_PATH`` is where a deployment keeps its local data)."""
    return Path(settings.spill_dir) if settings.spill_dir else default_spill_dir(settings.db_path)


def start_error(error: LogStartError, settings: Settings | None = None) -> ConfigError:
    database = "GATEWAY_DB_URL" if settings is not None and settings.db_url else "GATEWAY_DB_PATH"
    variable = database if error.what == "database" else "GATEWAY_SPILL_DIR"
    return ConfigError(variable, f"cannot use the {error.what} at {error.path}: {error.reason}")


def open_usage_log(settings: Settings) -> UsageLog:
    try:
        return UsageLog(
            settings.database(),
            spill_dir=spill_dir(settings),
            policy=settings.log_failure_policy(),
            busy_timeout_s=settings.db_busy_timeout_s,
            max_db_bytes=int(settings.db_max_mb * MB) if settings.db_max_mb else None,
            queue_max_bytes=int(settings.log_queue_mb * MB),
        )
    except LogStartError as e:
        raise start_error(e, settings) from None


def check_log_storage(settings: Settings) -> None:
    """Raise the ``ConfigError`` a gateway would raise at start-up, without starting one."""
    try:
        check_storage(settings.database(), spill_dir(settings))
    except LogStartError as e:
        raise start_error(e, settings) from None
