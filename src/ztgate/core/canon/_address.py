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

# (network, mask, class) as integers: first match wins, anything unmatched is public.
_Table = tuple[tuple[int, int, AddressClass], ...]


def _table(rows: tuple[tuple[str, AddressClass], ...]) -> _Table:
    networks = [(ipaddress.ip_network(text), cls) for text, cls in rows]
    return tuple((int(n.network_address), int(n.netmask), cls) for n, cls in networks)


_V4_TABLE: Final = _table(
    (
        ("0.0.0.0/8", AddressClass.UNSPECIFIED),
        ("127.0.0.0/8", AddressClass.LOOPBACK),
        ("169.254.0.0/16", AddressClass.LINK_LOCAL),
        ("10.0.0.0/8", AddressClass.PRIVATE),
        ("172.16.0.0/12", AddressClass.PRIVATE),
        ("192.168.0.0/16", AddressClass.PRIVATE),
        ("100.64.0.0/10", AddressClass.SHARED),
        ("192.0.2.0/24", AddressClass.DOCUMENTATION),
        ("198.51.100.0/24", AddressClass.DOCUMENTATION),
        ("203.0.113.0/24", AddressClass.DOCUMENTATION),
        ("224.0.0.0/4", AddressClass.MULTICAST),
        ("240.0.0.0/4", AddressClass.RESERVED),
        ("192.0.0.0/24", AddressClass.RESERVED),
        ("198.18.0.0/15", AddressClass.RESERVED),
        ("192.88.99.0/24", AddressClass.RESERVED),
    )
)

_V6_TABLE: Final = _table(
    (
        ("64:ff9b:1::/48", AddressClass.PRIVATE),
        ("fc00::/7", AddressClass.PRIVATE),
        ("fec0::/10", AddressClass.PRIVATE),
        ("fe80::/10", AddressClass.LINK_LOCAL),
        ("ff00::/8", AddressClass.MULTICAST),
        ("2001:db8::/32", AddressClass.DOCUMENTATION),
        ("3fff::/20", AddressClass.DOCUMENTATION),
        ("100::/64", AddressClass.RESERVED),
        ("2001::/23", AddressClass.RESERVED),
    )
)


def _prefix(text: str) -> tuple[int, int]:
    network = ipaddress.IPv6Network(text)
    return int(network.network_address), int(network.netmask)


_GLOBAL_UNICAST: Final = _prefix("2000::/3")
_MAPPED: Final = _prefix("::ffff:0:0/96")
_TRANSLATED: Final = _prefix("::ffff:0:0:0/96")
_COMPATIBLE: Final = _prefix("::/96")
_NAT64: Final = _prefix("64:ff9b::/96")
_SIXTOFOUR: Final = _prefix("2002::/16")
_TEREDO: Final = _prefix("2001::/32")
_LOW32: Final = 0xFFFFFFFF
_METADATA_INTS: Final = frozenset((a.version, int(a)) for a in METADATA_ADDRESSES)


def _in(value: int, prefix: tuple[int, int]) -> bool:
    return value & prefix[1] == prefix[0]


def _lookup(value: int, table: _Table) -> AddressClass:
    for network, mask, cls in table:
        if value & mask == network:
            return cls
    return AddressClass.PUBLIC


def _classify_v4(value: int) -> AddressClass:
    if (4, value) in _METADATA_INTS:
        return AddressClass.METADATA
    return _lookup(value, _V4_TABLE)


def _embedded_v4(value: int) -> tuple[int, ...] | None:
    """The IPv4 addresses an IPv6 address carries, or ``None`` if it is not such a form."""
    if any(_in(value, p) for p in (_MAPPED, _TRANSLATED, _COMPATIBLE, _NAT64)):
        return (value & _LOW32,)
    if _in(value, _SIXTOFOUR):
        return ((value >> 80) & _LOW32,)
    if _in(value, _TEREDO):
        return (~value & _LOW32, (value >> 64) & _LOW32)  # client, server
    return None


def _classify_v6(value: int) -> AddressClass:
    if (6, value) in _METADATA_INTS:
        return AddressClass.METADATA
    if value == 0:
        return AddressClass.UNSPECIFIED
    if value == 1:
        return AddressClass.LOOPBACK
    embedded = _embedded_v4(value)
    if embedded is not None:
        for inner in embedded:
            cls = _classify_v4(inner)
            if cls is not AddressClass.PUBLIC:
                return cls
        # IPv4-compatible addresses are deprecated and never routed to the embedded host.
        if _in(value, _COMPATIBLE):
            return AddressClass.RESERVED
        return AddressClass.PUBLIC
    cls = _lookup(value, _V6_TABLE)
    if cls is AddressClass.PUBLIC and not _in(value, _GLOBAL_UNICAST):
        return AddressClass.RESERVED
    return cls


def classify_address(ip: IPAddress) -> AddressClass:
    """Where ``ip`` points, judged by the most restrictive reading.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible
    ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) are
    classified by the embedded address when that is not public. IPv6 outside global unicast
    ``2000::/3`` is ``reserved``.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_v4(int(ip))
    if isinstance(ip, ipaddress.IPv6Address):
        return _classify_v6(int(ip))
    raise TypeError(f"classify_address needs an IP address, not `{type(ip).__name__}`")
