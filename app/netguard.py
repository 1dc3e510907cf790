"""The outbound address guard (SPEC §4.12): which IP addresses Almanac may connect to.

HTTP tasks and webhooks take URLs from users, so without a guard they would be
a way into the network Almanac runs in (SSRF): the cloud metadata service,
databases on localhost, admin panels on private addresses. The guard refuses
every address that is not globally routable — loopback, private, link-local,
CGNAT, multicast, unspecified, reserved and documentation ranges, and the
cloud metadata addresses — unless an admin listed its network in
``ALLOWED_OUTBOUND_NETWORKS``.

It is applied where it cannot be dodged: :class:`GuardedBackend` resolves the
host itself and checks every address before connecting to one of them, so a
DNS answer that changes between a check and the connection (DNS rebinding)
gains nothing. IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4,
Teredo) are judged by the IPv4 address inside.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Non-global per the IANA special-purpose registries, yet is_global on this
# Python (3.11.7): IPv4-compatible ::/96 (deprecated), local-use NAT64 (RFC 8215,
# translated by a local gateway, so it reaches whatever it embeds), IETF
# protocol assignments and the deprecated 6to4 relay anycast.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n) for n in ("::/96", "64:ff9b:1::/48", "192.0.0.0/24", "192.88.99.0/24")
)
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# inet_aton accepts 127.1, 2130706433, 0x7f000001, 0177.0.0.1 …: numbers a
# resolver turns into addresses, never written by someone with honest intent.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)
# A DNS name in its ASCII (IDNA) form: dot-separated labels of letters, digits,
# "-" and "_", 1-63 characters each, at most 253 in all. URL parsers pass
# "example.com]" or "a%5D" through as hosts; nothing could ever be sent there.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$",
    re.I,
)


class OutboundError(ValueError):
    """Almanac refused the request: a bad or forbidden destination, or too many redirects."""


class AddressRefused(OutboundError):
    """The destination is an address Almanac must not connect to."""


def embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), else itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client address
    return ip


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is no destination for Almanac (as words), or None if it is fine."""
    inner = embedded_ipv4(ip)
    checks = (
        (inner in _METADATA or ip in _METADATA, "cloud metadata"),
        (inner.is_loopback, "loopback"),
        (inner.is_link_local, "link-local"),
        (inner.is_unspecified, "unspecified"),
        (inner.is_multicast, "multicast"),
        (isinstance(inner, ipaddress.IPv4Address) and inner in _CGNAT, "shared (CGNAT)"),
        (inner.is_private, "private"),
        (not inner.is_global or any(a in n for a in (ip, inner) for n in _NOT_GLOBAL), "reserved"),
    )
    return next((why for refused, why in checks if refused), None)


def parse_networks(networks: Iterable[str]) -> list[IPNetwork]:
    """Allowlist entries (CIDR strings, validated at start-up) as networks."""
    return [ipaddress.ip_network(item, strict=False) for item in networks]


class Policy:
    """Which addresses may be reached: the public ones, and the allowlisted networks.

    An allowlist entry matches in its own family: ``127.0.0.1/32`` permits
    127.0.0.1, not the IPv6 literal ``::ffff:127.0.0.1``.
    """

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self.allowed = parse_networks(allowed)

    def permits(self, ip: IPAddress) -> bool:
        """True when Almanac may connect to ``ip``."""
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return True
        return refusal(ip) is None

    def check(self, ip: IPAddress, host: str | None = None) -> None:
        """Raise AddressRefused unless ``ip`` may be reached."""
        if self.permits(ip):
            return
        named = f"{host} ({ip})" if host and host != str(ip) else str(ip)
        why = refusal(ip) or "refused"
        article = "an" if why[0] in "aeiou" else "a"
        raise AddressRefused(
            f"refusing {named}: {article} {why} address; "
            "an admin can allow its network with ALLOWED_OUTBOUND_NETWORKS"
        )

    def check_host(self, host: str) -> IPAddress | None:
        """Check a URL's host without DNS: an IP literal is judged now, a name at connect time.

        Returns the literal's address, or None for a name.
        """
        bare = host.strip("[]")
        try:
            ip = ipaddress.ip_address(bare)
        except ValueError:
            if _NUMERIC_HOST.match(bare):
                raise AddressRefused(
                    f"refusing {host}: a non-canonical IP address (write it as a.b.c.d)"
                ) from None
            if not _HOST_NAME.match(bare):
                raise OutboundError(f"refusing {host!r}: not a valid host name") from None
            return None
        self.check(ip, host)
        return ip


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, refusing to connect to an address the policy forbids.

    The host is resolved here, every address it resolves to is checked (one
    forbidden address refuses the host: a mixed answer is a rebinding trick
    or a mistake), and the connection goes to a checked address. TLS and the
    Host header still use the name, so certificates are verified as usual.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        """Resolve, check every address, connect to the first that answers."""
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        for address in addresses:
            self.policy.check(ipaddress.ip_address(address.split("%")[0]), host)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure
