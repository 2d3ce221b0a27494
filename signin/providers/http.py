"""The one HTTP client of the identity providers.

Every attempt has a connect and read timeout, and the calls of one sign-in share
a :class:`Budget`, so a page never waits longer than ``PROVIDER_BUDGET`` however
a provider misbehaves. A 429 or 5xx is retried at most ``PROVIDER_RETRIES``
times, waiting what the provider asks for (``Retry-After``, RFC 9110 section
10.2.3; Discord's ``retry_after`` body field; PlayFab's ``retryAfterSeconds``) as
long as that fits ``PROVIDER_RETRY_AFTER_MAX`` and the budget, otherwise an
exponential back-off from ``PROVIDER_BACKOFF``. A request that may already have
been processed is replayed only when it is idempotent (RFC 9110 section 9.2.2):
an OAuth code is single use, so a token exchange that timed out mid-answer is
not sent again. What cannot be retried ends in ``ProviderUnavailable`` with a
retry hint; nothing here logs a secret (URLs are logged without their query).
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from sessions_core.conf import auth_settings
from signin.errors import BAD_RESPONSE, UNAVAILABLE
from sessions_core.errors import ProviderError, ProviderUnavailable

log = logging.getLogger("authsite.providers")

USER_AGENT = "authsite/0.1 (+python-requests)"
# A provider answer larger than this is not what we asked for.
MAX_BODY_BYTES = 1024 * 1024
# Statuses worth another attempt. 500 is retried only for idempotent calls: a
# non-idempotent request may have been processed before the failure.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
SERVICE_NAMES = {"discord": "Discord", "playfab": "PlayFab"}

# How the client waits between attempts; tests replace it to observe waits
# without spending them (the server keeps real time: it is another process or thread).
sleep: Callable[[float], None] = time.sleep


@dataclass
class Budget:
    """Seconds left for a chain of provider calls, on the monotonic clock."""

    deadline: float

    @classmethod
    def of(cls, seconds: float) -> "Budget":
        return cls(time.monotonic() + max(0.0, float(seconds)))

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class Answer:
    """A provider's HTTP answer, body read in full (bounded by ``MAX_BODY_BYTES``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    service: str

    def json(self) -> Any:
        """The body as JSON; raises ``ProviderError`` (``<service>_bad_response``) if it is not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_response(self.service, f"an answer that is not JSON (HTTP {self.status})") from e


def bad_response(service: str, what: str) -> ProviderError:
    """The error for an answer we cannot use (malformed, unexpected shape)."""
    name = SERVICE_NAMES.get(service, service)
    return BAD_RESPONSE[service](f"{name} sent {what}; nothing was changed. Try again in a moment.")


def unavailable(service: str, reason: str, retry_after: float | None = None) -> ProviderUnavailable:
    name = SERVICE_NAMES.get(service, service)
    return UNAVAILABLE[service](
        f"{name} is not answering right now ({reason}); nothing was changed. Try again shortly.",
        retry_after=math.ceil(retry_after) if retry_after else None,
    )


_local = threading.local()


def _session() -> requests.Session:
    """One pooled session per thread (``requests.Session`` is not documented thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        _local.session = session
    return session


def retry_after_seconds(answer: Answer) -> float | None:
    """How long the provider asked us to wait, or ``None`` if it did not say."""
    raw = (answer.headers.get("Retry-After") or "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    try:
        body = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict):
        for key in ("retry_after", "retryAfterSeconds"):
            value = body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                return float(value)
    return None


def _read(resp: requests.Response, service: str) -> Answer:
    body = bytearray()
    for chunk in resp.iter_content(65536):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise bad_response(service, "an oversized answer")
    return Answer(status=resp.status_code, headers=resp.headers, body=bytes(body), service=service)


def _attempt(method: str, url: str, service: str, timeout: float, kwargs: dict[str, Any]) -> Answer:
    resp = _session().request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)
    try:
        return _read(resp, service)
    finally:
        resp.close()


def send(
    method: str,
    url: str,
    *,
    service: str,
    budget: Budget,
    idempotent: bool,
    **kwargs: Any,
) -> Answer:
    """One provider call with timeouts and bounded retries; returns the final answer.

    Answers other than 429/5xx are returned for the caller to interpret (4xx are
    the provider's verdict). Raises ``ProviderUnavailable`` (``<service>_unavailable``,
    with ``retry_after`` when known) when the provider cannot be reached, times
    out, or keeps failing or throttling past the retries, the budget, or
    ``PROVIDER_RETRY_AFTER_MAX``; ``ProviderError`` (``<service>_bad_response``)
    for an oversized answer.
    """
    attempts = 1 + max(0, int(auth_settings.PROVIDER_RETRIES))
    backoff = float(auth_settings.PROVIDER_BACKOFF)
    hint: float | None = None
    path = urlsplit(url).path
    reason, wait = "no time left", backoff
    for attempt in range(attempts):
        left = budget.left()
        if left <= 0.01:
            reason = "no answer in time"
            break
        wait = backoff * (2**attempt)
        try:
            answer = _attempt(method, url, service, min(float(auth_settings.PROVIDER_TIMEOUT), left), kwargs)
        except requests.ConnectTimeout:
            # Nothing was sent: safe to repeat any request.
            reason, retryable = "connection timed out", True
        except requests.Timeout:
            reason, retryable = "no answer in time", idempotent
        except requests.RequestException as e:
            # Refused, reset, or broken mid-answer: the request may have been processed.
            reason, retryable = f"connection failed: {type(e).__name__}", idempotent
        else:
            status = answer.status
            if status < 500 and status != 429:
                return answer
            reason = "too many requests" if status == 429 else f"HTTP {status}"
            retryable = status in RETRY_STATUSES or idempotent
            asked = retry_after_seconds(answer)
            if asked is not None:
                hint = wait = asked
        log.warning("provider call failed: %s %s %s (%s, attempt %d)", service, method, path, reason, attempt + 1)
        if not retryable or attempt == attempts - 1:
            break
        if wait > float(auth_settings.PROVIDER_RETRY_AFTER_MAX) or wait >= budget.left():
            break
        sleep(wait)
    raise unavailable(service, reason, retry_after=hint if hint is not None else wait)
