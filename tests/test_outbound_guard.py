"""The outbound address guard (SPEC §4.12), on real sockets and a real local receiver.

The tests allow exactly 127.0.0.1/32 (their receiver): everything below is
refused *with that allowlist in force*, which also shows the allowlist is exact.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from app import netguard, outbound
from app.tasks import registry
from app.tasks.builtin import HttpTaskError

LOCAL = ["127.0.0.1/32"]
# (answers: name -> addresses, connects: every address a socket was opened to)
FakeDns = tuple[dict[str, list[str]], list[tuple[str, int]]]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://192.0.2.10/",
        "http://127.0.0.2/",
        # Teredo whose client is 127.0.0.1; then ranges Python 3.11.7 calls global.
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "http://[::7f00:1]/",
        "http://[64:ff9b:1::a00:1]/",
        "http://192.0.0.8/",
        "http://192.88.99.1/",
    ],
)
def test_forbidden_destinations_are_refused(url: str) -> None:
    # httpx itself already calls 0177.0.0.1 an invalid URL: refused either way.
    with pytest.raises(outbound.OutboundError, match=r"refusing|invalid URL"):
        outbound.request("GET", url, timeout=2, allowed=LOCAL)


@pytest.mark.parametrize(
    "url",
    ["http://exa%5Dmple.com/", "http://example.com]/", "http://a..b/", f"http://{'a' * 64}.com/"],
)
def test_a_host_that_is_no_dns_name_is_refused(url: str) -> None:
    with pytest.raises(outbound.OutboundError, match="not a valid host name"):
        outbound.check_destination(url, allowed=[])


@pytest.mark.parametrize(
    "url", ["https://bücher.de/", "https://Example.COM./", "http://my_host.internal:8080/"]
)
def test_dns_names_pass_the_check_before_lookup(url: str) -> None:
    outbound.check_destination(url, allowed=[])


def test_the_refusal_says_why_and_how_to_allow_it() -> None:
    with pytest.raises(outbound.OutboundError) as caught:
        outbound.check_destination("http://169.254.169.254/", allowed=[])
    message = str(caught.value)
    assert "cloud metadata" in message and "ALLOWED_OUTBOUND_NETWORKS" in message


def test_the_local_receiver_is_reached_only_through_the_allowlist(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_data("hello")
    url = httpserver.url_for("/ok")
    assert outbound.request("GET", url, allowed=LOCAL).text == "hello"
    with pytest.raises(outbound.OutboundError, match="loopback"):
        outbound.request("GET", url, allowed=[])
    assert len(httpserver.log) == 1


def test_a_name_that_resolves_to_loopback_is_refused(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/").replace("127.0.0.1", "localhost")  # real resolution
    with pytest.raises(outbound.OutboundError, match=r"refusing localhost \(.*\): a loopback"):
        outbound.request("GET", url, allowed=[])
    assert httpserver.log == []


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Names of our choosing; anything else resolves as usual. Records each connect."""
    answers: dict[str, list[str]] = {}
    connects: list[tuple[str, int]] = []
    real_resolve, real_connect = netguard.resolve, socket.create_connection

    def resolve(host: str, port: int) -> list[str]:
        return answers[host] if host in answers else real_resolve(host, port)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connects.append(address)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(netguard, "resolve", resolve)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return answers, connects


def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting(
    fake_dns: FakeDns,
) -> None:
    answers, connects = fake_dns
    answers["internal.example.test"] = ["10.1.2.3"]
    with pytest.raises(outbound.OutboundError, match=r"internal\.example\.test \(10\.1\.2\.3\)"):
        outbound.request("GET", "http://internal.example.test/", allowed=LOCAL)
    assert connects == []


def test_a_mixed_answer_is_refused_even_with_an_allowed_address(
    fake_dns: FakeDns, httpserver: HTTPServer
) -> None:
    answers, connects = fake_dns
    answers["rebind.example.test"] = ["127.0.0.1", "169.254.169.254"]
    port = httpserver.port
    with pytest.raises(outbound.OutboundError, match=r"169\.254\.169\.254"):
        outbound.request("GET", f"http://rebind.example.test:{port}/", allowed=LOCAL)
    assert connects == []


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    fake_dns: FakeDns, httpserver: HTTPServer
) -> None:
    answers, connects = fake_dns
    answers["receiver.example.test"] = ["127.0.0.1"]
    httpserver.expect_request("/named").respond_with_data("named")
    url = f"http://receiver.example.test:{httpserver.port}/named"
    assert outbound.request("GET", url, allowed=LOCAL).text == "named"
    assert connects == [("127.0.0.1", httpserver.port)]
    assert httpserver.log[0][0].headers["Host"] == f"receiver.example.test:{httpserver.port}"


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/", "http://127.1/"]
)
def test_a_redirect_to_a_forbidden_address_is_refused(httpserver: HTTPServer, target: str) -> None:
    location = target.format(port=httpserver.port)
    httpserver.expect_request("/public").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    with pytest.raises(outbound.OutboundError, match="refusing"):
        outbound.request("GET", httpserver.url_for("/public"), allowed=LOCAL)
    assert len(httpserver.log) == 1  # the first hop only


def test_the_http_task_run_fails_with_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound, "allowed_networks", lambda: LOCAL)
    spec = registry.get("http_request")
    with pytest.raises(HttpTaskError, match=r"request refused: refusing 169\.254\.169\.254"):
        spec.func(**spec.validate_args({"url": "http://169.254.169.254/latest/meta-data/"}))


def test_the_app_setting_is_the_default_allowlist(app: Flask) -> None:
    assert outbound.allowed_networks() == LOCAL  # tests/conftest.py configures it
    outbound.check_destination("http://127.0.0.1/")
    with pytest.raises(outbound.OutboundError):
        outbound.check_destination("http://127.0.0.2/")


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"]
)
def test_public_addresses_are_permitted(address: str) -> None:
    assert netguard.Policy().permits(ipaddress.ip_address(address))


def test_an_allowlisted_private_network_is_permitted() -> None:
    policy = netguard.Policy(["10.20.0.0/16"])
    assert policy.permits(ipaddress.ip_address("10.20.3.4"))
    assert not policy.permits(ipaddress.ip_address("10.21.0.1"))
    assert not policy.permits(ipaddress.ip_address("::ffff:10.20.3.4"))  # its own family only


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_a_mapped_address_is_judged_like_the_ipv4_address_inside(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    policy = netguard.Policy()
    assert policy.permits(mapped) == policy.permits(v4)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | value)
    assert policy.permits(nat64) == policy.permits(v4)
