"""The client's IP address, as far as this deployment can know it.

``X-Forwarded-For`` is a list every proxy appends to: the leftmost entries are
whatever the client sent, so only entries appended by proxies we run can be
trusted. With ``TRUSTED_PROXY_HOPS = n`` the client is the n-th entry from the
right (the address the outermost trusted proxy saw); with 0 the header is
ignored and the peer address is the client. (Daphne's ``--proxy-headers`` takes
the leftmost entry, which the client controls: do not use it.)
"""
from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from sessions_core.conf import auth_settings


def _normalized(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip_from(peer: str | None, forwarded_for: str | None, hops: int) -> str | None:
    """The client IP from the peer address and an ``X-Forwarded-For`` value.

    Fewer entries than ``hops`` (a request that skipped an outer proxy): the
    leftmost, which a trusted proxy appended. An entry that is no IP address:
    the peer. Never raises.
    """
    if hops <= 0 or not forwarded_for:
        return peer or None
    entries = [e.strip() for e in forwarded_for.split(",") if e.strip()]
    if not entries:
        return peer or None
    chosen = entries[-hops] if len(entries) >= hops else entries[0]
    return _normalized(chosen) or peer or None


def client_ip(request: HttpRequest) -> str | None:
    """The client IP of ``request`` per ``TRUSTED_PROXY_HOPS`` (see the module docstring)."""
    return client_ip_from(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"), int(auth_settings.TRUSTED_PROXY_HOPS)
    )
