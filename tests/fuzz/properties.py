"""The fuzz properties as plain functions of the attacker's input.

Shared by the Hypothesis tests (``make test``, short budget) and the
coverage-guided Atheris run (``make fuzz``): each returns normally when the
property holds and raises ``AssertionError`` (or lets an unexpected exception
escape, which is the crash being looked for) when it does not.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin, urlparse, urlsplit

from django.conf import settings
from django.http.request import validate_host

from realtime import protocol
from realtime.errors import OriginRefused
from realtime.middleware import check_origin, token_from_scope
from sessions_core.errors import NextInvalid, RefreshInvalid, TokenInvalid
from sessions_core.tokens import parse_refresh_token, read_access_token, read_session_token
from sessions_core.tokens.signing_keys import KeyRing, _new_key_row, _to_key
from signin.flow import safe_next

RS = protocol.RS


def memory_ring() -> KeyRing:
    """An in-memory key ring (no database) for the token parsers to verify against."""
    key = _to_key(_new_key_row())
    return KeyRing(by_kid={key.kid: key}, signers=((key.created_at, key),), loaded_at=time.time())


def session_token_refused(ring: KeyRing, token: str, *, original: str | None = None) -> None:
    """Anything but the server's own session token is refused with ``TokenInvalid``."""
    if token == original:
        return
    try:
        read_session_token(ring, token, now=time.time())
    except TokenInvalid:
        return
    raise AssertionError(f"a session token the server never made was accepted: {token!r}")


def access_token_refused(ring: KeyRing, token: str, *, original: Any = None) -> None:
    """Anything but the server's own access token is refused with ``TokenInvalid``.

    ``original`` (the claims of a real token ``token`` was mutated from): base64url's
    unused low bits let one signature be spelled two ways; the claims must be the same.
    """
    try:
        claims = read_access_token(ring, token)
    except TokenInvalid:
        return
    assert original is not None and claims.raw == original.raw, f"a forged access token was accepted: {token!r}"


def refresh_token_parses_or_refuses(token: str) -> None:
    """``parse_refresh_token`` answers parts of the documented shape or ``RefreshInvalid``."""
    try:
        parts = parse_refresh_token(token)
    except RefreshInvalid:
        return
    assert parts.uid > 0 and parts.generation >= 0 and 20 <= len(parts.secret) <= 128
    assert len(parts.sid) == 32 and int(parts.sid, 16) >= 0
    assert parse_refresh_token(parts.encode()) == parts


def next_is_local_or_refused(raw: str) -> None:
    """``safe_next`` returns a path a browser resolves on this site, or raises ``NextInvalid``."""
    try:
        target = safe_next(raw)
    except NextInvalid:
        return
    assert target == raw or (raw == "" and target == "/app")
    resolved = urlsplit(urljoin("https://site.example/base/", target.replace("\\", "/")))
    assert resolved.scheme == "https" and resolved.netloc == "site.example", target


def frames_split_like_one_string(text: str, cuts: list[int], limit: int) -> None:
    """However ``text`` arrives in frames, the buffer yields the records one split
    would, or refuses an over-long message with ``ValueError`` only."""
    cuts = sorted(min(max(c, 0), len(text)) for c in cuts)
    frames = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    buffer = protocol.FrameBuffer(limit)
    records: list[str] = []
    try:
        for frame in frames:
            records += buffer.feed(frame)
    except ValueError:
        assert any(len(part) > limit for part in text.split(RS))
        return
    *complete, rest = text.split(RS)
    assert records == complete and len(rest) <= limit


def hub_message_reads_or_refuses(record: str, handshake: bool) -> None:
    """A record is a JSON object (an integer ``type`` unless handshake) or ``ValueError``;
    an invocation reads or raises ``ValueError``; the handshake check answers."""
    try:
        msg = protocol.parse_record(record, handshake=handshake)
    except ValueError:
        return
    assert isinstance(msg, dict)
    if handshake:
        answer = protocol.check_handshake(msg)
        assert answer is None or isinstance(answer, str)
        protocol.handshake_response(answer)
        return
    assert isinstance(msg["type"], int) and not isinstance(msg["type"], bool)
    try:
        invocation_id, target, arguments = protocol.read_invocation(msg)
    except ValueError:
        return
    assert isinstance(target, str) and target and isinstance(arguments, list)
    assert invocation_id is None or (isinstance(invocation_id, str) and invocation_id)
    protocol.completion(invocation_id or "1", result=arguments)


def handshake_inputs_read_or_refuse(origin: bytes | None, auth: bytes | None, query: bytes) -> None:
    """The WebSocket's token is read without raising; ``Origin`` is an allowed host or ``OriginRefused``."""
    headers = [(b"origin", origin)] if origin is not None else []
    if auth is not None:
        headers.append((b"authorization", auth))
    scope = {"type": "websocket", "headers": headers, "query_string": query}
    token = token_from_scope(scope)
    assert token is None or isinstance(token, str)
    try:
        check_origin(scope)
    except OriginRefused:
        return
    if origin is not None:
        host = urlparse(origin.decode("latin1")).hostname or ""
        assert validate_host(f"[{host}]" if ":" in host else host, list(settings.ALLOWED_HOSTS)), origin
