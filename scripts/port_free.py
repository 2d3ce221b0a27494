"""Exit 0 if HOST:PORT can be listened on, 1 if something already holds it.

Used by ``make run`` before it starts serving. Binds without SO_REUSEADDR's
leniency for a listening socket: a port another server listens on fails here
exactly as it would for daphne.
"""
from __future__ import annotations

import socket
import sys


def port_free(host: str, port: int) -> bool:
    """True if a listening socket could bind ``host:port`` now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return True  # daphne reports an unknown host itself, with a clearer message
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(addr)
            except OSError:
                return False
    return True


if __name__ == "__main__":
    sys.exit(0 if port_free(sys.argv[1], int(sys.argv[2])) else 1)
