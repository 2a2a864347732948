"""Where an IP address points: the classification behind SSRF checks.

One table per family, first match wins, explicit rather than delegated to
:mod:`ipaddress`'s ``is_private``/``is_global`` flags, whose meaning has changed between
Python releases: a policy decision must not change with the interpreter.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressClass(StrEnum):
    """Where an address points. Everything but ``public`` is refused unless allowed."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    METADATA = "metadata"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    SHARED = "shared"
    DOCUMENTATION = "documentation"


#: Cloud instance-metadata endpoints: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS ECS
#: task metadata (169.254.170.2), EKS Pod Identity (169.254.170.23), Alibaba Cloud
#: (100.100.100.200), Oracle Cloud (192.0.0.192), Azure WireServer (168.63.129.16), and
#: the AWS IPv6 endpoints.
METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),
        ipaddress.IPv4Address("169.254.170.2"),
        ipaddress.IPv4Address("169.254.170.23"),
        ipaddress.IPv4Address("100.100.100.200"),
        ipaddress.IPv4Address("192.0.0.192"),
        ipaddress.IPv4Address("168.63.129.16"),
        ipaddress.IPv6Address("fd00:ec2::254"),
        ipaddress.IPv6Address("fd00:ec2::23"),
    }
)

_N4 = ipaddress.IPv4Network
_N6 = ipaddress.IPv6Network

# First match wins; anything unmatched is public.
_V4_TABLE: Final[tuple[tuple[ipaddress.IPv4Network, AddressClass], ...]] = (
    (_N4("0.0.0.0/8"), AddressClass.UNSPECIFIED),
    (_N4("127.0.0.0/8"), AddressClass.LOOPBACK),
    (_N4("169.254.0.0/16"), AddressClass.LINK_LOCAL),
    (_N4("10.0.0.0/8"), AddressClass.PRIVATE),
    (_N4("172.16.0.0/12"), AddressClass.PRIVATE),
    (_N4("192.168.0.0/16"), AddressClass.PRIVATE),
    (_N4("100.64.0.0/10"), AddressClass.SHARED),
    (_N4("192.0.2.0/24"), AddressClass.DOCUMENTATION),
    (_N4("198.51.100.0/24"), AddressClass.DOCUMENTATION),
    (_N4("203.0.113.0/24"), AddressClass.DOCUMENTATION),
    (_N4("224.0.0.0/4"), AddressClass.MULTICAST),
    (_N4("240.0.0.0/4"), AddressClass.RESERVED),
    (_N4("192.0.0.0/24"), AddressClass.RESERVED),
    (_N4("198.18.0.0/15"), AddressClass.RESERVED),
    (_N4("192.88.99.0/24"), AddressClass.RESERVED),
)

_V6_TABLE: Final[tuple[tuple[ipaddress.IPv6Network, AddressClass], ...]] = (
    (_N6("64:ff9b:1::/48"), AddressClass.PRIVATE),
    (_N6("fc00::/7"), AddressClass.PRIVATE),
    (_N6("fec0::/10"), AddressClass.PRIVATE),
    (_N6("fe80::/10"), AddressClass.LINK_LOCAL),
    (_N6("ff00::/8"), AddressClass.MULTICAST),
    (_N6("2001:db8::/32"), AddressClass.DOCUMENTATION),
    (_N6("3fff::/20"), AddressClass.DOCUMENTATION),
    (_N6("100::/64"), AddressClass.RESERVED),
    (_N6("2001::/23"), AddressClass.RESERVED),
)
_GLOBAL_UNICAST: Final = _N6("2000::/3")
_MAPPED: Final = _N6("::ffff:0:0/96")
_TRANSLATED: Final = _N6("::ffff:0:0:0/96")
_COMPATIBLE: Final = _N6("::/96")
_NAT64: Final = _N6("64:ff9b::/96")
_SIXTOFOUR: Final = _N6("2002::/16")
_TEREDO: Final = _N6("2001::/32")
_LOW32: Final = 0xFFFFFFFF


def _classify_v4(ip: ipaddress.IPv4Address) -> AddressClass:
    if ip in METADATA_ADDRESSES:
        return AddressClass.METADATA
    for network, cls in _V4_TABLE:
        if ip in network:
            return cls
    return AddressClass.PUBLIC


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries, or ``None`` if it is not such a form."""
    value = int(ip)
    if ip in _MAPPED or ip in _TRANSLATED or ip in _COMPATIBLE or ip in _NAT64:
        return [ipaddress.IPv4Address(value & _LOW32)]
    if ip in _SIXTOFOUR:
        return [ipaddress.IPv4Address((value >> 80) & _LOW32)]
    if ip in _TEREDO:
        client = ipaddress.IPv4Address(~value & _LOW32)
        server = ipaddress.IPv4Address((value >> 64) & _LOW32)
        return [client, server]
    return None


def _classify_v6(ip: ipaddress.IPv6Address) -> AddressClass:
    if ip in METADATA_ADDRESSES:
        return AddressClass.METADATA
    if ip == ipaddress.IPv6Address("::"):
        return AddressClass.UNSPECIFIED
    if ip == ipaddress.IPv6Address("::1"):
        return AddressClass.LOOPBACK
    embedded = _embedded_v4(ip)
    if embedded is not None:
        for inner in embedded:
            cls = _classify_v4(inner)
            if cls is not AddressClass.PUBLIC:
                return cls
        # IPv4-compatible addresses are deprecated and never routed to the embedded host.
        if ip in _COMPATIBLE:
            return AddressClass.RESERVED
        return AddressClass.PUBLIC
    for network, cls in _V6_TABLE:
        if ip in network:
            return cls
    return AddressClass.PUBLIC if ip in _GLOBAL_UNICAST else AddressClass.RESERVED


def classify_address(ip: IPAddress) -> AddressClass:
    """Where ``ip`` points, judged by the most restrictive reading.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible
    ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) are
    classified by the embedded address when that is not public. IPv6 outside global unicast
    ``2000::/3`` is ``reserved``.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_v4(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        return _classify_v6(ip)
    raise TypeError(f"classify_address needs an IP address, not `{type(ip).__name__}`")
