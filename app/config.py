"""Configuration read from the environment with strict parsers.

Nothing here runs at import time: ``load_config`` is called by ``create_app``.
A malformed value fails start-up with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """A configuration value is malformed; the message names the variable."""


def parse_bool(name: str, raw: str) -> bool:
    """Parse a boolean environment value or fail naming the variable."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def parse_int(name: str, raw: str, *, minimum: int = 0) -> int:
    """Parse an integer environment value (>= minimum) or fail naming the variable."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def parse_float(name: str, raw: str, *, minimum: float = 0.0) -> float:
    """Parse a number environment value (>= minimum) or fail naming the variable."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a finite number >= {minimum}, got {raw!r}")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    """One of a fixed set of words, or fail naming the variable."""
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def parse_list(name: str, raw: str) -> list[str]:
    """Parse a comma-separated list, dropping blanks."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_networks(name: str, raw: str) -> list[str]:
    """Parse a comma-separated list of IP networks (CIDR) or addresses."""
    networks = []
    for item in parse_list(name, raw):
        try:
            networks.append(str(ipaddress.ip_network(item)))
        except ValueError as error:
            raise ConfigError(f"{name}: {item!r} is not an IP network ({error})") from None
    return networks


def _read_secret_key(key_file: Path) -> str:
    """The key in an existing key file; an empty file is refused, not used."""
    key = key_file.read_text().strip()
    if not key:
        raise ConfigError(f"{key_file} is empty; delete it to generate a new secret key")
    return key


def _secret_key(instance_path: Path) -> str:
    """Return the secret key kept in instance/, generating it once."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return _read_secret_key(key_file)
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Write the key to a private temporary file, then link it into place: the key
    # file appears complete or not at all, and when two processes start at once
    # the link of the second fails, so both use the first one's key.
    fd, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        os.link(temporary, key_file)
    except FileExistsError:
        return _read_secret_key(key_file)
    finally:
        os.unlink(temporary)
    return key


# Every process's database engine; the worker swaps the pre-ping for its own
# idle-only ping (``app.engine.pings``).
ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}

# (environment variable, config key, parser, default)
_Parser = Callable[[str, str], Any]
_SETTINGS: list[tuple[str, _Parser, str]] = [
    ("REDIS_URL", lambda _n, v: v, "redis://127.0.0.1:6379/0"),
    ("RQ_DEFAULT_QUEUE", lambda _n, v: v, "default"),
    ("WORKER_CONCURRENCY", lambda n, v: parse_int(n, v, minimum=1), "2"),
    ("WORKER_QUEUES", parse_list, ""),
    ("WORKER_CLASS", lambda n, v: _choice(n, v, ("fork", "simple")), "fork"),
    ("SCHEDULER_POLL_SECONDS", lambda n, v: parse_float(n, v, minimum=0.05), "0.5"),
    ("RECONCILE_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "30"),
    ("LEASE_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "15"),
    ("HEARTBEAT_SECONDS", lambda n, v: parse_float(n, v, minimum=0.1), "5"),
    ("WORKER_LOST_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "60"),
    ("MISFIRE_RUN_ALL_CAP", lambda n, v: parse_int(n, v, minimum=1), "100"),
    ("RETRY_POLL_SECONDS", lambda n, v: parse_float(n, v, minimum=0.05), "1"),
    ("RETRY_BATCH_SIZE", lambda n, v: parse_int(n, v, minimum=1), "200"),
    ("RETRY_CLAIM_TIMEOUT_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "60"),
    ("RETRY_MAX_ABANDONED", lambda n, v: parse_int(n, v, minimum=1), "3"),
    ("RETRY_WAIT_LIMIT_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "3600"),
    ("WEBHOOK_TIMEOUT_SECONDS", lambda n, v: parse_float(n, v, minimum=0.5), "10"),
    ("WEBHOOK_MAX_ATTEMPTS", lambda n, v: parse_int(n, v, minimum=1), "8"),
    ("WEBHOOK_RETRY_BASE_SECONDS", lambda n, v: parse_float(n, v, minimum=0.1), "10"),
    ("WEBHOOK_RETRY_MAX_SECONDS", lambda n, v: parse_float(n, v, minimum=1), "3600"),
    ("HISTORY_RETENTION_DAYS", lambda n, v: parse_int(n, v, minimum=1), "30"),
    ("LOG_OUTPUT_LIMIT", lambda n, v: parse_int(n, v, minimum=1024), "65536"),
    ("LOGIN_RATE_LIMIT", lambda _n, v: v, "10 per minute;50 per hour"),
    ("RATELIMIT_STORAGE_URI", lambda _n, v: v, ""),
    ("RATELIMIT_ENABLED", parse_bool, "true"),
    ("ALLOWED_OUTBOUND_NETWORKS", parse_networks, ""),
    ("METRICS_TOKEN", lambda _n, v: v, ""),
    ("METRICS_ALLOWED_NETWORKS", parse_networks, "127.0.0.1/32,::1/128"),
    ("SESSION_COOKIE_SECURE", parse_bool, "false"),
    ("API_MAX_PER_PAGE", lambda n, v: parse_int(n, v, minimum=1), "100"),
    ("CALENDAR_AGGREGATE_AFTER", parse_int, "200"),
]


def load_config(
    environ: Mapping[str, str] | None = None, instance_path: Path | None = None
) -> dict[str, Any]:
    """Build the Flask config mapping from an environment mapping."""
    env = os.environ if environ is None else environ
    instance = instance_path or Path(env.get("ALMANAC_INSTANCE", PROJECT_ROOT / "instance"))
    config: dict[str, Any] = {}
    for name, parser, default in _SETTINGS:
        config[name] = parser(name, env.get(name, default))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'almanac.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=dict(ENGINE_OPTIONS),
        SECRET_KEY=env.get("SECRET_KEY") or _secret_key(instance),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    _check_metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR", ""))
    if not config["RATELIMIT_STORAGE_URI"]:
        # Share login counters across gunicorn workers through the same Redis.
        redis_url: str = config["REDIS_URL"]
        config["RATELIMIT_STORAGE_URI"] = redis_url.replace("unix://", "redis+unix://", 1)
    return config


def _check_metrics_dir(raw: str) -> None:
    """Multiprocess metrics need their directory before the first count, not mid-pass."""
    if raw and not Path(raw).is_dir():
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR must be an existing directory, got {raw!r} "
            "(create and empty it before starting the processes, as scripts/run.sh does)"
        )
