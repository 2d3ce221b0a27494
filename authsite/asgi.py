"""ASGI entry point: Django for HTTP (static files included), Channels for the hub."""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime import drain  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

# DrainMiddleware outermost: a stopping worker fails /readyz and lets its hub
# connections and requests in flight finish (realtime/drain.py).
application = drain.DrainMiddleware(
    ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(django_asgi),
            "websocket": websocket_application(),
        }
    )
)
drain.install()
