"""The http_request task and app.outbound, against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app import outbound
from app.tasks import TaskArgsError, registry
from app.tasks.builtin import HttpTaskError


def run_http(**args: Any) -> dict[str, Any]:
    """Validate like the API would, then run the task like a worker would."""
    spec = registry.get("http_request")
    result: dict[str, Any] = spec.func(**spec.validate_args(args))
    return result


def seen(httpserver: HTTPServer, index: int = -1) -> Request:
    """The request the server received (the last one by default)."""
    request: Request = httpserver.log[index][0]
    return request


@pytest.fixture(autouse=True)
def _local_receivers_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the test app is configured: the guard lets these tests reach 127.0.0.1 only."""
    monkeypatch.setattr(outbound, "allowed_networks", lambda: ["127.0.0.1/32"])


@pytest.fixture
def other_origin() -> Iterator[HTTPServer]:
    """A second server on another port, i.e. another origin."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


# --- results and requests ------------------------------------------------------------------


def test_get_returns_status_timing_headers_and_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/health", method="GET").respond_with_data(
        "all good", content_type="text/plain; charset=utf-8", headers={"X-Other": "hidden"}
    )
    result = run_http(url=httpserver.url_for("/health"))
    assert result["status"] == 200
    assert result["body"] == "all good"
    assert result["headers"] == {"content-type": "text/plain; charset=utf-8", "content-length": "8"}
    assert isinstance(result["elapsedMs"], float)
    assert result["elapsedMs"] >= 0


def test_post_sends_an_object_body_as_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST", json={"a": 1, "b": [True]}).respond_with_json(
        {"received": True}, status=201
    )
    result = run_http(method="POST", url=httpserver.url_for("/hook"), body={"a": 1, "b": [True]})
    assert result["status"] == 201
    assert json.loads(result["body"]) == {"received": True}
    assert seen(httpserver).headers["Content-Type"] == "application/json"


def test_post_sends_a_string_body_and_custom_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/raw", method="POST", data="plain text", headers={"X-Token": "abc"}
    ).respond_with_data("ok")
    run_http(
        method="POST",
        url=httpserver.url_for("/raw"),
        body="plain text",
        headers={"X-Token": "abc", "Content-Type": "text/plain"},
    )
    request = seen(httpserver)
    assert request.get_data(as_text=True) == "plain text"
    assert request.headers["X-Token"] == "abc"
    assert request.headers["Content-Type"] == "text/plain"
    httpserver.check_assertions()


def test_body_is_truncated_to_4096_chars(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data("x" * 10_000)
    result = run_http(url=httpserver.url_for("/big"))
    assert len(result["body"]) == 4096
    assert result["headers"]["content-length"] == "10000"


# --- expected status -----------------------------------------------------------------------


def test_any_2xx_is_success_by_default(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/empty").respond_with_data("", status=204)
    assert run_http(url=httpserver.url_for("/empty"))["status"] == 204


def test_expected_status_match_succeeds(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    result = run_http(url=httpserver.url_for("/gone"), expected_status=[404, 410])
    assert result["status"] == 410


def test_unexpected_status_raises_with_status_and_result(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down").respond_with_data("maintenance", status=503)
    with pytest.raises(HttpTaskError) as caught:
        run_http(url=httpserver.url_for("/down"))
    assert caught.value.status == 503
    assert str(caught.value) == "unexpected HTTP status 503 (expected 2xx)"
    assert caught.value.result is not None
    assert caught.value.result["body"] == "maintenance"


def test_success_code_outside_expected_list_fails(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_data("ok")
    with pytest.raises(HttpTaskError, match=r"status 200 \(expected 201, 202\)") as caught:
        run_http(url=httpserver.url_for("/ok"), expected_status=[201, 202])
    assert caught.value.status == 200


# --- redirects -----------------------------------------------------------------------------


def redirect(httpserver: HTTPServer, path: str, location: str, status: int = 302) -> None:
    """Make ``path`` answer with a redirect to ``location``."""
    httpserver.expect_request(path).respond_with_data(
        "", status=status, headers={"Location": location}
    )


def test_redirect_is_followed(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/old", "/new")
    httpserver.expect_request("/new").respond_with_data("moved here")
    result = run_http(url=httpserver.url_for("/old"))
    assert (result["status"], result["body"]) == (200, "moved here")
    assert [entry[0].path for entry in httpserver.log] == ["/old", "/new"]


def test_redirect_not_followed_when_disabled(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/old", "/new")
    result = run_http(url=httpserver.url_for("/old"), follow_redirects=False, expected_status=[302])
    assert result["status"] == 302
    assert len(httpserver.log) == 1


def test_redirect_limit_is_enforced(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/loop", "/loop")
    with pytest.raises(HttpTaskError, match="too many redirects") as caught:
        run_http(url=httpserver.url_for("/loop"))
    assert caught.value.status is None
    assert len(httpserver.log) == 6  # the first request and five redirects


def test_redirect_to_a_non_http_scheme_is_refused(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/sneaky", "file:///etc/passwd")
    with pytest.raises(HttpTaskError, match="request refused: refusing file URL"):
        run_http(url=httpserver.url_for("/sneaky"))


def test_303_turns_a_post_into_a_get_without_body(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/submit", "/done", status=303)
    httpserver.expect_request("/done", method="GET").respond_with_data("done")
    run_http(method="POST", url=httpserver.url_for("/submit"), body={"a": 1})
    final = seen(httpserver)
    assert (final.method, final.get_data(), final.headers.get("Content-Type")) == ("GET", b"", None)


def test_307_keeps_method_and_body(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/v1", "/v2", status=307)
    httpserver.expect_request("/v2", method="PUT", data="payload").respond_with_data("ok")
    run_http(method="PUT", url=httpserver.url_for("/v1"), body="payload")
    httpserver.check_assertions()


def test_credentials_are_not_forwarded_to_another_origin(
    httpserver: HTTPServer, other_origin: HTTPServer
) -> None:
    redirect(httpserver, "/start", other_origin.url_for("/elsewhere"))
    other_origin.expect_request("/elsewhere").respond_with_data("ok")
    run_http(
        url=httpserver.url_for("/start"),
        headers={"Authorization": "Bearer secret", "X-Trace": "1"},
    )
    assert seen(httpserver).headers["Authorization"] == "Bearer secret"
    moved = seen(other_origin)
    assert "Authorization" not in moved.headers
    assert moved.headers["X-Trace"] == "1"


# --- transport failures --------------------------------------------------------------------


def test_timeout_raises_http_task_error(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(HttpTaskError, match=r"request timed out after 0.2s") as caught:
        run_http(url=httpserver.url_for("/slow"), timeout=0.2)
    assert caught.value.status is None


def test_timeout_covers_a_slowly_dripping_body(httpserver: HTTPServer) -> None:
    def drip(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(6):
                time.sleep(0.1)
                yield b"x"

        return Response(chunks())

    httpserver.expect_request("/drip").respond_with_handler(drip)
    with pytest.raises(HttpTaskError, match="timed out"):
        run_http(url=httpserver.url_for("/drip"), timeout=0.25)


def test_connection_refused_raises_http_task_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HttpTaskError, match="could not connect") as caught:
        run_http(url=f"http://127.0.0.1:{port}/")
    assert caught.value.status is None
    assert caught.value.result is None


# --- validation in front of the request ----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "gopher://x",
        "//x",
        # Hosts no two parsers agree on: httpx takes "example.com]" as a host name.
        "http://example.com]/",
        "http://[/",
        "http://[::1/",
        "http://a[b]/",
        "http://a@b@c/",
        "http://example.com:port/",
    ],
)
def test_non_http_urls_are_rejected_by_validation(url: str) -> None:
    with pytest.raises(TaskArgsError) as caught:
        run_http(url=url)
    assert set(caught.value.errors) == {"url"}


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "http://user:pw@example.com:8080/a?b=c#d",
        "http://[2001:db8::1]:443/",
        "https://bücher.de/",
    ],
)
def test_valid_urls_pass_validation(url: str) -> None:
    assert registry.get("http_request").validate_args({"url": url})["url"] == url


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://[/", "http://example.com]/"])
def test_task_function_checks_the_url_itself(url: str) -> None:
    with pytest.raises(TaskArgsError) as caught:
        registry.get("http_request").func(url=url)
    assert caught.value.errors == {"url": "must be an absolute http:// or https:// URL"}


# --- app.outbound directly -----------------------------------------------------------------


def test_outbound_caps_the_body_at_one_mebibyte(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/huge").respond_with_data(b"y" * (outbound.MAX_BODY_BYTES + 5000))
    response = outbound.request("GET", httpserver.url_for("/huge"))
    assert response.truncated
    assert len(response.text) == outbound.MAX_BODY_BYTES
    assert response.url == httpserver.url_for("/huge")


def test_outbound_reports_the_final_url(httpserver: HTTPServer) -> None:
    redirect(httpserver, "/a", "/b", status=301)
    httpserver.expect_request("/b").respond_with_data("b")
    response = outbound.request("GET", httpserver.url_for("/a"))
    assert (response.status, response.text, response.truncated) == (200, "b", False)
    assert response.url == httpserver.url_for("/b")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "only http"),
        ("example.com/path", "only http"),
        ("http:///path", "without a host"),
        ("http://[::1/", "invalid URL"),
    ],
)
def test_check_destination_refuses_bad_urls(url: str, message: str) -> None:
    with pytest.raises(outbound.OutboundError, match=message):
        outbound.check_destination(url)


def test_outbound_refuses_content_and_json_together() -> None:
    with pytest.raises(ValueError, match="not both"):
        outbound.request("POST", "http://127.0.0.1/", content="a", json={"a": 1})
