"""Where a webhook may be sent: public addresses only, unless the host (or host:port) is
allow-listed.

Checked twice: at enqueue for literal IP hosts (a 422 naming the field), and by the worker after
DNS resolution for host names, so a name pointing at 127.0.0.1 or 10.x is refused too. The worker
then connects to the address it checked instead of letting the HTTP client resolve the name
again: a name answering a public address for the check and a private one for the connection
(DNS rebinding) cannot slip through between the two.

An IPv6 address that stands for an IPv4 one (IPv4-mapped, IPv4-compatible, IPv4-translated,
NAT64, 6to4, Teredo) is judged by the IPv4 address it embeds: `[64:ff9b::7f00:1]` reaches
127.0.0.1 through a NAT64 gateway, so it is no more public than 127.0.0.1.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Collection

from jobqueue.settings import canonical_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_IN_LOW_32_BITS = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated; `::` and `::1` judge as 0.0.0.x)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix
)
# The local-use NAT64 prefix (RFC 8215): where the IPv4 address sits depends on the prefix
# length the network chose (RFC 6052: /48 to /96), so the address alone cannot say which IPv4
# it reaches; and it is never globally routed. Refused outright.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class DestinationNotAllowed(ValueError):
    """The destination is not public and not allow-listed: a permanent failure.

    A `ValueError`, so pydantic reports it as a validation error of the `url` field.
    """


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address stands for, or None if it is a plain IPv6 address."""
    if any(address in network for network in _IPV4_IN_LOW_32_BITS):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the Teredo server and the client behind it
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return all(is_public(ipv4) for ipv4 in embedded)
    return address.is_global and not address.is_multicast


def is_allowed(host: str, port: int, allowed_hosts: Collection[str]) -> bool:
    """`host` is allow-listed for any port, or `host:port` for this one."""
    key = canonical_host(host)
    return key in allowed_hosts or f"{key}:{port}" in allowed_hosts


def check_literal_host(host: str, port: int, allowed_hosts: Collection[str]) -> None:
    """Refuse a host written as a non-public IP address; names are checked after resolving."""
    if is_allowed(host, port, allowed_hosts):
        return
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if not is_public(address):
        raise DestinationNotAllowed(
            f"{host} is not a public address; add it to JOBQUEUE_WEBHOOK_ALLOWED_HOSTS to allow it"
        )


async def resolve_public(host: str, port: int, allowed_hosts: Collection[str]) -> str | None:
    """The address to connect to for `host`: the first it resolves to, once every address it
    resolves to is checked public. None for an allow-listed host (connected to by name)."""
    if is_allowed(host, port, allowed_hosts):
        return None
    check_literal_host(host, port, allowed_hosts)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DestinationNotAllowed(f"{host} does not resolve: {exc.strerror}") from exc
    addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in infos]
    for address in addresses:
        if not is_public(address):
            raise DestinationNotAllowed(
                f"{host} resolves to {address}, which is not a public address; add {host} to "
                "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS to allow it"
            )
    return str(addresses[0])
