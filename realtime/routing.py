"""WebSocket routing (the SignalR-protocol hub is mounted here)."""
from __future__ import annotations

from typing import Any

from channels.routing import URLRouter


def websocket_application() -> Any:
    return URLRouter([])
