"""The task registry: registration, lookup, argument validation and the demo tasks."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from app.tasks import TaskArgsError, TaskSpec, UnknownTaskError, registry, task
from app.tasks.registry import TaskRegistry

CLOSED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"n": {"type": "integer", "default": 1}},
    "additionalProperties": False,
}


def _spec(name: str = "demo", **overrides: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "name": name,
        "display_name": "Demo",
        "description": "A demo task.",
        "func": lambda n=1: n,
        "args_schema": CLOSED_SCHEMA,
    }
    return TaskSpec(**(fields | overrides))


def _errors(task_name: str, args: object) -> dict[str, str]:
    with pytest.raises(TaskArgsError) as caught:
        registry.get(task_name).validate_args(args)
    return caught.value.errors


# --- registry ------------------------------------------------------------------------------


def test_builtins_are_registered_on_import() -> None:
    assert registry.names() == ["cleanup_history", "flaky", "http_request", "noop", "sleep"]
    assert [spec.name for spec in registry] == registry.names()
    assert "noop" in registry
    assert "os_system" not in registry


def test_builtin_metadata() -> None:
    http = registry.get("http_request")
    assert http.handler_type == "http"
    assert http.display_name == "HTTP request"
    assert http.handler_path == "app.tasks.builtin.http_request"
    cleanup = registry.get("cleanup_history")
    assert cleanup.is_system
    assert cleanup.display_name == "Clean up history"
    assert not registry.get("noop").is_system
    assert all(spec.args_schema["additionalProperties"] is False for spec in registry)


def test_register_and_get_on_a_private_registry() -> None:
    private = TaskRegistry()
    spec = _spec()
    private.register(spec)
    assert private.get("demo") is spec
    assert "demo" in private
    assert len(private) == 1
    assert "demo" not in registry


def test_duplicate_name_is_refused() -> None:
    private = TaskRegistry()
    private.register(_spec())
    with pytest.raises(ValueError, match="already registered"):
        private.register(_spec())


def test_unknown_task_raises_a_key_error_with_a_clear_message() -> None:
    with pytest.raises(UnknownTaskError) as caught:
        registry.get("app.evil.handler")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == (
        "unknown task 'app.evil.handler': only tasks registered in code can run"
    )


def test_iteration_is_sorted_by_name() -> None:
    private = TaskRegistry()
    for name in ("zeta", "alpha", "mid"):
        private.register(_spec(name))
    assert private.names() == ["alpha", "mid", "zeta"]
    assert [spec.name for spec in private] == ["alpha", "mid", "zeta"]


def test_decorator_registers_and_returns_the_function_unchanged() -> None:
    private = TaskRegistry()

    def double(n: int = 1) -> int:
        return n * 2

    decorated = task(
        "double",
        display_name="Double",
        description="Doubles n.",
        args=CLOSED_SCHEMA,
        queue="fast",
        timeout=10,
        system=True,
        registry=private,
    )(double)
    assert decorated is double
    spec = private.get("double")
    assert (spec.queue, spec.timeout_seconds, spec.is_system) == ("fast", 10, True)
    assert spec.handler_path == f"{double.__module__}.{double.__qualname__}"
    assert spec.handler_path.endswith(".<locals>.double")
    assert "double" not in registry


def test_decorator_without_args_takes_no_arguments() -> None:
    private = TaskRegistry()
    task("bare", display_name="Bare", description="", registry=private)(lambda: None)
    assert private.get("bare").validate_args(None) == {}
    with pytest.raises(TaskArgsError) as caught:
        private.get("bare").validate_args({"x": 1})
    assert caught.value.errors == {"x": "is not an allowed field"}


@pytest.mark.parametrize("name", ["A", "x", "Upper", "1abc", "has-dash", "has space", "a" * 65])
def test_bad_task_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        _spec(name)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"handler_type": "shell"}, "handler_type"),
        ({"queue": ""}, "queue"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"args_schema": {"type": "object"}}, "additionalProperties"),
        ({"args_schema": {"type": "array", "additionalProperties": False}}, "must be an object"),
        ({"args_schema": {"type": "objekt", "additionalProperties": False}}, "invalid args schema"),
        (
            {
                "args_schema": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "default": "one"}},
                    "additionalProperties": False,
                }
            },
            "default for 'n'",
        ),
    ],
)
def test_malformed_specs_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _spec(**overrides)


# --- argument validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_name", "args", "field"),
    [
        ("noop", {"x": 1}, "x"),
        ("sleep", {"seconds": "1"}, "seconds"),
        ("sleep", {"seconds": -1}, "seconds"),
        ("sleep", {"seconds": 86401}, "seconds"),
        ("sleep", {"seconds": True}, "seconds"),
        ("sleep", {"seconds": math.nan}, "seconds"),
        ("sleep", {"seconds": math.inf}, "seconds"),
        ("sleep", {"second": 1}, "second"),
        ("flaky", {"failure_rate": 1.5}, "failure_rate"),
        ("flaky", {"failure_rate": -0.1}, "failure_rate"),
        ("flaky", {"seed": 1.5}, "seed"),
        ("flaky", {"seed": "42"}, "seed"),
        ("cleanup_history", {"older_than_days": 0}, "older_than_days"),
        ("cleanup_history", {"older_than_days": 3651}, "older_than_days"),
        ("cleanup_history", {"older_than_days": "30"}, "older_than_days"),
        ("cleanup_history", {"batch_size": 99}, "batch_size"),
        ("cleanup_history", {"batch_size": 100001}, "batch_size"),
        ("cleanup_history", {"days": 30}, "days"),
        ("http_request", {}, "url"),
        ("http_request", {"url": 5}, "url"),
        ("http_request", {"url": "ftp://example.com/"}, "url"),
        ("http_request", {"url": "file:///etc/passwd"}, "url"),
        ("http_request", {"url": "javascript:alert(1)"}, "url"),
        ("http_request", {"url": "https://"}, "url"),
        ("http_request", {"url": "https://exa mple.com/"}, "url"),
        ("http_request", {"url": "https://example.com/" + "a" * 2048}, "url"),
        ("http_request", {"url": "https://x.org", "method": "get"}, "method"),
        ("http_request", {"url": "https://x.org", "method": "TRACE"}, "method"),
        ("http_request", {"url": "https://x.org", "headers": []}, "headers"),
        ("http_request", {"url": "https://x.org", "headers": {"X-A": 1}}, "headers.X-A"),
        ("http_request", {"url": "https://x.org", "headers": {"X-A": "a\r\nB: c"}}, "headers.X-A"),
        (
            "http_request",
            {"url": "https://x.org", "headers": {"Bad Name": "v"}},
            "headers.Bad Name",
        ),
        (
            "http_request",
            {"url": "https://x.org", "headers": {f"H{i}": "v" for i in range(51)}},
            "headers",
        ),
        ("http_request", {"url": "https://x.org", "body": 5}, "body"),
        ("http_request", {"url": "https://x.org", "body": "a" * 1_000_001}, "body"),
        ("http_request", {"url": "https://x.org", "expected_status": 200}, "expected_status"),
        ("http_request", {"url": "https://x.org", "expected_status": [99]}, "expected_status.0"),
        (
            "http_request",
            {"url": "https://x.org", "expected_status": [200, 600]},
            "expected_status.1",
        ),
        ("http_request", {"url": "https://x.org", "timeout": 0.05}, "timeout"),
        ("http_request", {"url": "https://x.org", "timeout": 301}, "timeout"),
        ("http_request", {"url": "https://x.org", "follow_redirects": "yes"}, "follow_redirects"),
        ("http_request", {"url": "https://x.org", "verify": False}, "verify"),
    ],
)
def test_bad_args_are_reported_by_field(task_name: str, args: object, field: str) -> None:
    errors = _errors(task_name, args)
    assert field in errors, errors
    assert errors[field]


@pytest.mark.parametrize("args", [[], "url=x", 5, True, ["url"]])
@pytest.mark.parametrize("task_name", ["noop", "http_request"])
def test_args_must_be_an_object(task_name: str, args: object) -> None:
    assert _errors(task_name, args) == {"": "must be a JSON object"}


def test_all_errors_are_collected_at_once() -> None:
    errors = _errors(
        "http_request",
        {"url": "ftp://x", "method": "FETCH", "timeout": 0, "extra": 1, "other": 2},
    )
    assert set(errors) == {"url", "method", "timeout", "extra", "other"}
    assert errors["extra"] == "is not an allowed field"
    assert errors["url"] == "must be an http:// or https:// URL without spaces"
    assert errors["method"].startswith("must be one of: GET, POST")


def test_error_messages_do_not_echo_huge_values() -> None:
    with pytest.raises(TaskArgsError) as caught:
        registry.get("http_request").validate_args(
            {"url": "https://x.org", "body": "a" * 2_000_000}
        )
    assert caught.value.errors == {"body": "must be at most 1000000 characters long"}
    assert len(str(caught.value)) < 200


def test_defaults_are_filled_in() -> None:
    assert registry.get("noop").validate_args(None) == {}
    assert registry.get("sleep").validate_args({}) == {"seconds": 1}
    assert registry.get("flaky").validate_args(None) == {"failure_rate": 0.5}
    assert registry.get("cleanup_history").validate_args({"batch_size": 500}) == {
        "older_than_days": 30,
        "batch_size": 500,
    }
    assert registry.get("http_request").validate_args({"url": "https://x.org/a?b=c"}) == {
        "url": "https://x.org/a?b=c",
        "method": "GET",
        "expected_status": [],
        "timeout": 30,
        "follow_redirects": True,
    }


def test_validate_args_returns_a_copy_and_defaults_are_not_shared() -> None:
    spec = registry.get("http_request")
    given = {"url": "https://x.org"}
    first = spec.validate_args(given)
    first["expected_status"].append(500)
    assert given == {"url": "https://x.org"}
    assert spec.validate_args(given)["expected_status"] == []


def test_valid_http_args_pass_unchanged() -> None:
    args = {
        "method": "POST",
        "url": "http://example.com:8080/hook#frag",
        "headers": {"Authorization": "Bearer t", "X-Empty": ""},
        "body": {"nested": [1, {"a": None}]},
        "expected_status": [200, 202],
        "timeout": 0.1,
        "follow_redirects": False,
    }
    assert registry.get("http_request").validate_args(args) == args
    for body in ("text", [1, 2], None):
        registry.get("http_request").validate_args({"url": "https://x.org", "body": body})


# --- demo tasks ----------------------------------------------------------------------------


def test_noop_succeeds() -> None:
    assert registry.get("noop").func() == {"ok": True}


def test_sleep_sleeps_and_reports() -> None:
    spec = registry.get("sleep")
    assert spec.func(**spec.validate_args({"seconds": 0.01})) == {"slept": 0.01}


def test_flaky_with_rate_zero_never_fails() -> None:
    flaky = registry.get("flaky").func
    assert all(flaky(failure_rate=0) == {"ok": True} for _ in range(50))


def test_flaky_with_rate_one_always_fails() -> None:
    flaky = registry.get("flaky").func
    for seed in (None, 1, 2):
        with pytest.raises(RuntimeError, match=r"flaky task failed \(simulated\)"):
            flaky(failure_rate=1, seed=seed)


@pytest.mark.parametrize("seed", range(10))
def test_flaky_is_reproducible_with_a_seed(seed: int) -> None:
    flaky = registry.get("flaky").func
    fails = random.Random(seed).random() < 0.5
    for _ in range(2):
        if fails:
            with pytest.raises(RuntimeError):
                flaky(failure_rate=0.5, seed=seed)
        else:
            assert flaky(failure_rate=0.5, seed=seed) == {"ok": True}
