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


class UnknownMethod(HubError):
    code = "unknown_method"
    detail = "The hub has no such method."


class BadArguments(HubError):
    code = "bad_arguments"
    detail = "The hub method was called with the wrong arguments."


class TokenMismatch(HubError):
    code = "token_mismatch"
    detail = "The token belongs to another user or session."


class BadGroup(HubError):
    code = "bad_group"
    detail = "A group name is 1-64 letters, digits, '_' or '-'."


class TooManyGroups(HubError):
    code = "too_many_groups"
    detail = "This session has joined too many groups."
