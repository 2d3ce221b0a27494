"""Errors of the realtime hub, in the one hierarchy of :mod:`sessions_core.errors`.

The handshake middleware turns any ``AuthError`` into a refused upgrade (HTTP 403,
logged with its code); the consumer turns a ``HubError`` raised by a hub method
into a SignalR completion carrying ``error`` (HubProtocol.md, "Completion").
"""
from __future__ import annotations

from sessions_core.errors import AuthError


class OriginRefused(AuthError):
    """The WebSocket's ``Origin`` is not one of the allowed hosts."""

    code = "origin_refused"
    status = 403
    detail = "The page's origin may not open the hub."


class ConnectionUnknown(AuthError):
    """``?id=`` names no negotiated connection of this session (or it was used already)."""

    code = "connection_unknown"
    status = 404
    detail = "No such negotiated connection; negotiate again."
    allow_reconnect = True


class HubError(AuthError):
    """A hub method refused its call; the caller gets a completion with this error."""

    code = "hub_error"
    status = 400
    detail = "The hub method failed."


class ProtocolError(AuthError):
    """The client broke the SignalR protocol; the connection is closed with this error."""

    code = "protocol_error"
    status = 400
    detail = "The message does not follow the SignalR JSON hub protocol."
