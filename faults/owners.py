"""Which of our processes holds the far end of a loopback TCP connection (Linux `/proc`).

The ledger learns from this which worker delivered a job: the webhook job sends no worker id,
and a SIGKILLed worker says nothing, but its sockets name it while it lives.
"""

import os
from collections.abc import Iterable
from pathlib import Path


def socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the IPv4 socket bound to 127.0.0.1:`local_port` and connected to
    `remote_port` (the client side of a connection we accepted)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if _port(local) == local_port and _port(remote) == remote_port and inode:
                return inode
    return None


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def owner_of(inode: int, pids: Iterable[int]) -> int | None:
    """The first of `pids` holding the socket `inode` open."""
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return pid
            except OSError:
                continue
    return None
