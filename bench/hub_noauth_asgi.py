"""The hub's Channels stack with the authentication taken out (the benchmark's baseline).

Same router, same consumer, same presence and channel-layer work; no handshake
middleware and no session re-check: every connection speaks for the principal in
``BENCH_PRINCIPAL`` (JSON of :class:`realtime.auth.HubPrincipal`'s fields).
"""
from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from realtime.auth import HubPrincipal  # noqa: E402
from realtime.consumer import HubConsumer  # noqa: E402
from realtime.negotiation import new_connection_id  # noqa: E402

PRINCIPAL = HubPrincipal(**json.loads(os.environ["BENCH_PRINCIPAL"]))


class UnauthenticatedHub(HubConsumer):
    async def recheck(self) -> None:
        return None


class FixedPrincipal:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope, hub=PRINCIPAL, hub_connection_id=new_connection_id())
        return await self.inner(scope, receive, send)


application = ProtocolTypeRouter(
    {"http": django_asgi, "websocket": FixedPrincipal(URLRouter([path("hub", UnauthenticatedHub.as_asgi())]))}
)
