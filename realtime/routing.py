"""WebSocket routing: the SignalR-protocol hub at ``/hub``, behind the handshake middleware."""
from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from realtime.consumer import HubConsumer
from realtime.middleware import HubAuthMiddleware


def websocket_application() -> Any:
    """The ``websocket`` branch of the ASGI router: authenticate, then route to the hub."""
    return HubAuthMiddleware(URLRouter([path("hub", HubConsumer.as_asgi())]))
