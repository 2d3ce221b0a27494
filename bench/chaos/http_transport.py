"""The soak's transport: plain HTTP with httpx, one connection pool per simulated browser.

Cookies are the model's (an explicit ``Cookie`` header, ``Set-Cookie`` parsed back),
so the jar behaves the same whatever carries the requests; the site's cookies are
``Secure`` and a stock cookie jar would withhold them over loopback HTTP.
"""
from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx

from bench.chaos.model import Reply


def _set_cookies(headers: httpx.Headers) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for raw in headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(raw)
        for name, morsel in jar.items():
            gone = morsel["max-age"] == "0" or "1970" in morsel["expires"] or morsel.value == ""
            out[name] = None if gone else morsel.value
    return out


class HttpxTransport:
    def __init__(self, base_url: str, timeout: float = 6.0) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, limits=httpx.Limits(max_connections=6, max_keepalive_connections=6),
        )

    async def _send(self, method: str, path: str, cookies: dict[str, str], headers: dict[str, str]) -> Reply:
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if method == "POST" and "csrftoken" in cookies:
            headers["X-CSRFToken"] = cookies["csrftoken"]
        try:
            resp = await self.client.request(method, path, headers=headers)
        except httpx.TimeoutException:
            return Reply(error="timeout")
        except httpx.ConnectError:
            return Reply(error="connect")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            return Reply(error="reset")
        except httpx.TransportError as e:
            return Reply(error=type(e).__name__)
        finally:
            self.client.cookies.clear()
        body: dict[str, Any] = {}
        if resp.headers.get("content-type", "").startswith("application/json"):
            try:
                body = resp.json()
            except ValueError:
                body = {}
        retry_after = resp.headers.get("retry-after")
        return Reply(
            status=resp.status_code, body=body if isinstance(body, dict) else {}, set_cookies=_set_cookies(resp.headers),
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    async def post(self, path: str, *, cookies: dict[str, str], bearer: str | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return await self._send("POST", path, cookies, headers)

    async def get(self, path: str, *, cookies: dict[str, str]) -> Reply:
        return await self._send("GET", path, cookies, {})

    async def close(self) -> None:
        await self.client.aclose()
