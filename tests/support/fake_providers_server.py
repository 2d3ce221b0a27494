"""A fake Discord + PlayFab on a loopback port, for tests that need providers misbehaving.

By default it behaves like the real services (and checks what they check):

- ``GET  /oauth2/authorize``: checks client id, redirect URI and an S256
  challenge, then approves at once (302 to the redirect URI with ``code`` and
  ``state``), or answers ``error=access_denied`` when ``deny`` is set.
- ``POST /api/oauth2/token``: HTTP Basic client auth, single-use codes, PKCE
  verifier; ``invalid_grant`` / ``invalid_client`` as RFC 6749 section 5.2 says.
- ``GET  /api/users/@me``: the user behind a bearer token it issued.
- ``POST /playfab/Server/LoginWithServerCustomId`` and ``AuthenticateSessionTicket``:
  ``X-SecretKey`` checked, PlayFab's envelope, tickets it can later refuse (1100).

Tests push scripted answers per endpoint with :meth:`FakeProviders.queue`
(status, headers, body, delay): 429 with ``Retry-After``, 500, slow answers,
malformed JSON, error envelopes. Every request is recorded in ``calls``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "loopback-client"
CLIENT_SECRET = "loopback-secret"
TITLE_ID = "LOOP1"
SECRET_KEY = "loopback-playfab-key"

ENDPOINTS = {
    ("GET", "/oauth2/authorize"): "authorize",
    ("POST", "/api/oauth2/token"): "token",
    ("GET", "/api/users/@me"): "me",
    ("POST", "/playfab/Server/LoginWithServerCustomId"): "playfab_login",
    ("POST", "/playfab/Server/AuthenticateSessionTicket"): "playfab_auth",
}


@dataclass
class Reply:
    """A scripted answer. ``body`` may be bytes (sent as is) or JSON-able."""

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def playfab_error(status: int, error: str, code: int, message: str = "", **extra: Any) -> Reply:
    """PlayFab's error envelope."""
    names = {400: "BadRequest", 401: "Unauthorized", 429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
    body = {"code": status, "status": names.get(status, "Error"), "error": error, "errorCode": code,
            "errorMessage": message or error, **extra}
    return Reply(status, body)


@dataclass
class Call:
    endpoint: str
    headers: dict[str, str]
    query: dict[str, str]
    form: dict[str, str]
    json: Any


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeProviders:
    """The server; use as a context manager or call :meth:`close`."""

    def __init__(self, *, redirect_uri: str = "http://testserver/auth/discord/callback") -> None:
        self.redirect_uri = redirect_uri
        self.user: dict[str, Any] = {"id": "80351110224678912", "username": "nelly", "global_name": "Nelly", "avatar": None}
        self.deny = False
        self.calls: dict[str, list[Call]] = defaultdict(list)
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._codes: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self.tickets: dict[str, str] = {}  # ticket -> PlayFab id (valid ones)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def settings(self) -> dict[str, Any]:
        """``AUTHSITE`` entries that point the site's real client code here."""
        return {
            "DISCORD_CLIENT_ID": CLIENT_ID, "DISCORD_CLIENT_SECRET": CLIENT_SECRET,
            "DISCORD_API_BASE": f"{self.base}/api", "DISCORD_AUTHORIZE_URL": f"{self.base}/oauth2/authorize",
            "PLAYFAB_TITLE_ID": TITLE_ID, "PLAYFAB_SECRET_KEY": SECRET_KEY, "PLAYFAB_API_BASE": f"{self.base}/playfab",
        }

    def queue(self, endpoint: str, *replies: Reply) -> None:
        """Answer the next requests to ``endpoint`` with ``replies``, in order."""
        with self._lock:
            self._queues[endpoint].extend(replies)

    def expire_tickets(self) -> None:
        """PlayFab forgets every ticket (they now get InvalidSessionTicket, 1100)."""
        with self._lock:
            self.tickets.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeProviders":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- default behaviour (what the real services do) -----------------------

    def _authorize(self, call: Call) -> Reply:
        q = call.query
        if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != self.redirect_uri:
            return Reply(400, {"message": "Invalid OAuth2 redirect_uri or client_id"})
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return Reply(400, {"message": "Invalid OAuth2 request"})
        back = {"state": q["state"]} if q.get("state") else {}
        if self.deny:
            back.update(error="access_denied", error_description="The resource owner or authorization server denied the request")
        else:
            code = secrets.token_urlsafe(16)
            self._codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"], "user": dict(self.user)}
            back["code"] = code
        return Reply(302, b"", {"Location": f"{q['redirect_uri']}?{urlencode(back)}"})

    def _token(self, call: Call) -> Reply:
        auth = call.headers.get("authorization", "")
        creds = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
        if creds != f"{CLIENT_ID}:{CLIENT_SECRET}":
            return Reply(401, {"error": "invalid_client"})
        f = call.form
        grant = self._codes.pop(f.get("code", ""), None)
        if f.get("grant_type") != "authorization_code" or grant is None:
            return Reply(400, {"error": "invalid_grant", "error_description": 'Invalid "code" in request.'})
        if f.get("redirect_uri") != grant["redirect_uri"] or _s256(f.get("code_verifier", "")) != grant["challenge"]:
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid code_verifier"})
        token = secrets.token_urlsafe(16)
        self._tokens[token] = grant["user"]
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 604800,
                           "refresh_token": secrets.token_urlsafe(16), "scope": "identify"})

    def _me(self, call: Call) -> Reply:
        user = self._tokens.get(call.headers.get("authorization", "")[7:])
        if user is None:
            return Reply(401, {"message": "401: Unauthorized", "code": 0})
        return Reply(200, {**user, "discriminator": "0"})

    def _playfab(self, call: Call) -> Reply:
        if call.headers.get("x-secretkey") != SECRET_KEY:
            return playfab_error(401, "NotAuthenticated", 1074, "Invalid secret key")
        body = call.json if isinstance(call.json, dict) else {}
        if call.endpoint == "playfab_auth":
            pid = self.tickets.get(body.get("SessionTicket", ""))
            if pid is None:
                return playfab_error(400, "InvalidSessionTicket", 1100, "Session ticket is invalid")
            return Reply(200, {"code": 200, "status": "OK", "data": {"UserInfo": {"PlayFabId": pid}}})
        custom = body.get("ServerCustomId")
        if not isinstance(custom, str) or not custom:
            return playfab_error(400, "InvalidParams", 1000, "ServerCustomId is required")
        pid = hashlib.sha256(custom.encode()).hexdigest()[:16].upper()
        ticket = f"{pid}---{secrets.token_hex(16)}"
        self.tickets[ticket] = pid
        return Reply(200, {"code": 200, "status": "OK",
                           "data": {"PlayFabId": pid, "SessionTicket": ticket, "NewlyCreated": False}})

    def _default(self, call: Call) -> Reply:
        with self._lock:
            handler = {"authorize": self._authorize, "token": self._token, "me": self._me}.get(call.endpoint, self._playfab)
            return handler(call)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                endpoint = ENDPOINTS.get((method, parts.path))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if endpoint is None:
                    self._send(Reply(404, {"message": "404: Not Found"}))
                    return
                ctype = self.headers.get("Content-Type", "")
                form = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()} if "form" in ctype else {}
                try:
                    body = json.loads(raw) if "json" in ctype else None
                except ValueError:
                    body = None
                call = Call(endpoint, {k.lower(): v for k, v in self.headers.items()},
                            {k: v[0] for k, v in parse_qs(parts.query).items()}, form, body)
                with fake._lock:
                    fake.calls[endpoint].append(call)
                    scripted = fake._queues[endpoint].popleft() if fake._queues[endpoint] else None
                self._send(scripted or fake._default(call))

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)  # the misbehaving provider is slow for real
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timed out) first

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
