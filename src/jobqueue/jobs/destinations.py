"""Where a webhook may be sent: public addresses only, unless the host is allow-listed.

Checked twice: at enqueue for literal IP hosts (a 422 naming the field), and by the worker after
DNS resolution for host names, so a name pointing at 127.0.0.1 or 10.x is refused too. The worker
then connects to the address it checked instead of letting the HTTP client resolve the name
again: a name answering a public address for the check and a private one for the connection
(DNS rebinding) cannot slip through between the two.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Collection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationNotAllowed(ValueError):
    """The destination is not public and not allow-listed: a permanent failure.

    A `ValueError`, so pydantic reports it as a validation error of the `url` field.
    """


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_literal_host(host: str, allowed_hosts: Collection[str]) -> None:
    """Refuse a host written as a non-public IP address; names are checked after resolving."""
    if host.lower() in allowed_hosts:
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
    if host.lower() in allowed_hosts:
        return None
    check_literal_host(host, allowed_hosts)
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
