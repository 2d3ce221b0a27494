"""Key rotation publishes the next key before it signs.

Another service verifies access tokens with our JWKS and caches it for its
max-age. A token whose ``kid`` that cached copy lacks is rejected there, so no
token may be signed by a key the JWKS has not listed for at least its max-age.
The clock is moved explicitly (wall time and the key cache's monotonic clock).
"""
from __future__ import annotations

import re
import time as real_time
from datetime import datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from sessions_core.conf import auth_settings
from sessions_core.models import SigningKey
from sessions_core.tokens import signing_keys
from sessions_core.tokens.access import make_access_token, read_access_token

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """Wall and monotonic time for the signing-key module, moved by the test."""

    def __init__(self) -> None:
        self.wall = timezone.now()
        self.mono = real_time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.wall += delta
        self.mono += delta.total_seconds()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(signing_keys, "timezone", SimpleNamespace(now=lambda: c.wall))
    monkeypatch.setattr(signing_keys, "time", SimpleNamespace(monotonic=lambda: c.mono))
    return c


def _jwks(client: Client) -> tuple[set[str], int]:
    resp = client.get("/.well-known/jwks.json")
    max_age = int(re.search(r"max-age=(\d+)", resp["Cache-Control"]).group(1))  # type: ignore[union-attr]
    return {k["kid"] for k in resp.json()["keys"]}, max_age


def _token_kid() -> str:
    ring = signing_keys.get_keyring()
    token, _ = make_access_token(ring, uid=1, sid="0" * 32, tv=1, name="alice", iat=int(real_time.time()))
    read_access_token(ring, token)  # and it verifies here
    return str(jwt.get_unverified_header(token)["kid"])


def test_no_token_is_signed_by_a_key_the_jwks_has_not_listed_for_its_max_age(clock):
    client = Client()
    first_listed: dict[str, datetime] = {}
    signed_by: list[tuple[datetime, str]] = []

    def observe() -> None:
        kids, max_age = _jwks(client)
        assert max_age == auth_settings.JWKS_CACHE_MAX_AGE.total_seconds()
        for kid in kids:
            first_listed.setdefault(kid, clock.wall)
        signed_by.append((clock.wall, _token_kid()))

    observe()
    clock.advance(timedelta(hours=1))  # the install's first key has been public for a while
    observe()
    old = signed_by[-1][1]
    step = timedelta(seconds=20)
    for i in range(60):  # 20 minutes in 20 s steps, with two rotations inside
        if i in (3, 30):
            signing_keys.rotate_signing_key()
        clock.advance(step)
        observe()
    max_age = auth_settings.JWKS_CACHE_MAX_AGE
    for at, kid in signed_by[1:]:
        assert at - first_listed[kid] >= max_age, f"{kid} signed at {at} but listed only since {first_listed[kid]}"
    kids_in_order = list(dict.fromkeys(kid for _, kid in signed_by))
    assert len(kids_in_order) == 3 and kids_in_order[0] == old  # both rotations did take over, in order
    # The takeover happens as soon as it is safe: the prepublication delay, not much later.
    takeover = next(at for at, kid in signed_by if kid == kids_in_order[1])
    created = SigningKey.objects.get(kid=kids_in_order[1]).created_at
    assert takeover - created <= signing_keys.prepublication() + step


def test_the_old_key_keeps_signing_until_the_next_one_activates_then_still_verifies(clock):
    ring = signing_keys.get_keyring()
    old = ring.signing.kid
    clock.advance(timedelta(hours=1))
    old_token, _ = make_access_token(ring, uid=1, sid="0" * 32, tv=1, name="a", iat=int(real_time.time()))
    new = signing_keys.rotate_signing_key()
    assert new.kid in _jwks(Client())[0] and _token_kid() == old
    assert SigningKey.objects.get(kid=old).retired_at == signing_keys.activates_at(new)
    clock.advance(signing_keys.prepublication())
    assert _token_kid() == new.kid
    read_access_token(signing_keys.get_keyring(), old_token)  # still verifies during its lifetime


def test_immediately_switches_at_once(clock):
    old = signing_keys.get_keyring().signing.kid
    clock.advance(timedelta(hours=1))
    new = signing_keys.rotate_signing_key(immediately=True)
    assert _token_kid() == new.kid != old


def test_the_command_says_when_the_next_key_takes_over(clock):
    from io import StringIO

    from django.core.management import call_command

    signing_keys.get_keyring()
    clock.advance(timedelta(hours=1))
    out = StringIO()
    call_command("rotate_signing_key", stdout=out)
    text = out.getvalue()
    new = SigningKey.objects.order_by("-created_at").first()
    assert new is not None
    assert f"Next signing key {new.kid}: published in the JWKS now; signs new tokens from" in text
    assert f"{signing_keys.activates_at(new):%Y-%m-%d %H:%M:%S} UTC" in text
