"""Configuration from the environment: defaults, strict parsers, the secret key."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError, load_config


def test_defaults(tmp_path):
    config = load_config({}, tmp_path)
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["RQ_DEFAULT_QUEUE"] == "default"
    assert config["WORKER_CONCURRENCY"] == 2
    assert config["SCHEDULER_POLL_SECONDS"] == 0.5
    assert config["RECONCILE_SECONDS"] == 30.0
    assert config["HISTORY_RETENTION_DAYS"] == 30
    assert config["LOGIN_RATE_LIMIT"] == "10 per minute;50 per hour"
    assert config["RATELIMIT_ENABLED"] is True
    assert config["ALLOWED_OUTBOUND_NETWORKS"] == []
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["API_MAX_PER_PAGE"] == 100


def test_database_url_defaults_to_sqlite_under_instance(tmp_path):
    config = load_config({}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'almanac.db'}"


def test_empty_database_url_means_the_default(tmp_path):
    config = load_config({"DATABASE_URL": ""}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'almanac.db'}"


def test_postgres_scheme_is_rewritten_for_psycopg(tmp_path):
    config = load_config({"DATABASE_URL": "postgres://u:p@db:5432/almanac"}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/almanac"


def test_explicit_database_url_is_kept(tmp_path):
    url = "postgresql+psycopg://u@db/almanac"
    assert load_config({"DATABASE_URL": url}, tmp_path)["SQLALCHEMY_DATABASE_URI"] == url


def test_values_are_parsed_from_the_environment(tmp_path):
    env = {
        "WORKER_CONCURRENCY": " 8 ",
        "SCHEDULER_POLL_SECONDS": "0.25",
        "RATELIMIT_ENABLED": "off",
        "SESSION_COOKIE_SECURE": "YES",
        "HISTORY_RETENTION_DAYS": "90",
    }
    config = load_config(env, tmp_path)
    assert config["WORKER_CONCURRENCY"] == 8
    assert config["SCHEDULER_POLL_SECONDS"] == 0.25
    assert config["RATELIMIT_ENABLED"] is False
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["HISTORY_RETENTION_DAYS"] == 90


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("WORKER_CONCURRENCY", "two"),
        ("WORKER_CONCURRENCY", "0"),
        ("WORKER_CONCURRENCY", "-1"),
        ("WORKER_CONCURRENCY", "1.5"),
        ("HISTORY_RETENTION_DAYS", ""),
        ("LOG_OUTPUT_LIMIT", "100"),
        ("API_MAX_PER_PAGE", "lots"),
    ],
)
def test_bad_integer_fails_naming_the_variable(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=name):
        load_config({name: raw}, tmp_path)


@pytest.mark.parametrize("raw", ["maybe", "2", "yess", "enabled"])
def test_bad_boolean_fails_naming_the_variable(tmp_path, raw):
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        load_config({"SESSION_COOKIE_SECURE": raw}, tmp_path)


@pytest.mark.parametrize("raw", ["fast", "", "0", "0.01", "-1", "nan", "inf", "1e999"])
def test_bad_float_fails_naming_the_variable(tmp_path, raw):
    with pytest.raises(ConfigError, match="SCHEDULER_POLL_SECONDS"):
        load_config({"SCHEDULER_POLL_SECONDS": raw}, tmp_path)


def test_infinite_reconcile_period_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="RECONCILE_SECONDS"):
        load_config({"RECONCILE_SECONDS": "Infinity"}, tmp_path)


def test_allowed_outbound_networks_is_a_comma_separated_list(tmp_path):
    env = {"ALLOWED_OUTBOUND_NETWORKS": " 10.0.0.0/8, ,192.168.1.0/24,fd00::/8,"}
    config = load_config(env, tmp_path)
    assert config["ALLOWED_OUTBOUND_NETWORKS"] == ["10.0.0.0/8", "192.168.1.0/24", "fd00::/8"]


def test_allowed_outbound_network_single_address_becomes_a_host_network(tmp_path):
    config = load_config({"ALLOWED_OUTBOUND_NETWORKS": "127.0.0.1"}, tmp_path)
    assert config["ALLOWED_OUTBOUND_NETWORKS"] == ["127.0.0.1/32"]


@pytest.mark.parametrize("raw", ["intranet", "10.0.0.0/33", "10.0.0.0/8,300.1.1.1", "10.0.0.1/8"])
def test_bad_allowed_outbound_network_fails_naming_the_variable(tmp_path, raw):
    with pytest.raises(ConfigError, match="ALLOWED_OUTBOUND_NETWORKS"):
        load_config({"ALLOWED_OUTBOUND_NETWORKS": raw}, tmp_path)


# --- the secret key -------------------------------------------------------------------------


def test_secret_key_is_generated_once_into_instance_with_mode_0600(tmp_path):
    instance = tmp_path / "instance"  # does not exist yet
    first = load_config({}, instance)["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert len(first) >= 32
    assert key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config({}, instance)["SECRET_KEY"] == first


def test_secret_key_file_mode_ignores_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        load_config({}, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_secret_key_from_environment_wins_and_writes_no_file(tmp_path):
    config = load_config({"SECRET_KEY": "from-env"}, tmp_path)
    assert config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_empty_secret_key_file_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ConfigError, match="secret_key"):
        load_config({}, tmp_path)


def test_concurrent_starts_agree_on_one_non_empty_key(tmp_path):
    keys: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def boot(instance: Path) -> None:
        start.wait()
        try:
            keys.append(load_config({}, instance)["SECRET_KEY"])
        except BaseException as error:
            errors.append(error)

    for attempt in range(20):
        instance = tmp_path / str(attempt)
        keys.clear()
        threads = [threading.Thread(target=boot, args=(instance,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert len(set(keys)) == 1, keys
        assert keys[0] and keys[0] == (instance / "secret_key").read_text()


# --- rate-limit storage ---------------------------------------------------------------------


def test_rate_limit_storage_follows_redis_url(tmp_path):
    config = load_config({"REDIS_URL": "redis://cache:6379/3"}, tmp_path)
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/3"


def test_rate_limit_storage_uses_redis_unix_scheme_for_a_socket(tmp_path):
    config = load_config({"REDIS_URL": "unix:///run/almanac/redis.sock?db=0"}, tmp_path)
    assert config["RATELIMIT_STORAGE_URI"] == "redis+unix:///run/almanac/redis.sock?db=0"


def test_explicit_rate_limit_storage_wins(tmp_path):
    env = {"REDIS_URL": "redis://cache:6379/0", "RATELIMIT_STORAGE_URI": "memory://"}
    assert load_config(env, tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"


# --- start-up -------------------------------------------------------------------------------


def test_create_app_fails_at_start_up_on_a_bad_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("SECRET_KEY", "test")
    monkeypatch.setenv("WORKER_CONCURRENCY", "two")
    with pytest.raises(ConfigError, match="WORKER_CONCURRENCY"):
        create_app()


def test_create_app_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("HISTORY_RETENTION_DAYS", "7")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["HISTORY_RETENTION_DAYS"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'app.db'}"


def test_a_missing_metrics_directory_fails_start_up(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_config({"PROMETHEUS_MULTIPROC_DIR": str(missing), "SECRET_KEY": "x" * 32}, tmp_path)
    missing.mkdir()
    load_config({"PROMETHEUS_MULTIPROC_DIR": str(missing), "SECRET_KEY": "x" * 32}, tmp_path)
