"""The OAuth callback's parameters and ``next``.

Properties: ``safe_next`` returns a path a browser resolves on this site, or
raises ``NextInvalid``; the callback, whatever its ``state``, ``code`` and
``error`` (and the binding cookie), answers a clear 4xx page and creates nothing
(no user, no session, no auth cookie, the pending sign-in untouched).
"""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import given, strategies as st

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from tests.fuzz import properties
from tests.fuzz.budget import fuzz_target
from tests.fuzz.strategies import SPECIAL, TEXT

NEXTISH = st.one_of(
    TEXT,
    st.lists(st.one_of(SPECIAL, st.sampled_from(["/", "//", "\\", "http:", "https:", "javascript:", "evil.example", "@", ";", "%5c", "%2f", "\t", "\r", "\n", "\x7f", "app"])), max_size=12).map("".join),
)


@given(raw=NEXTISH)
@fuzz_target("signin.next")
def test_next_is_local_or_refused(raw: str) -> None:
    properties.next_is_local_or_refused(raw)


PARAM = st.one_of(st.none(), TEXT, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=30, max_size=140))


# A Cookie header is bytes on the wire: what a browser can send as a value.
COOKIE_VALUE = st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'), max_size=140))


@pytest.mark.django_db(transaction=True)
@given(state=PARAM, code=PARAM, error=PARAM, binding=COOKIE_VALUE)
@fuzz_target("signin.callback", weight=0.05)
def test_callback_parameters(state: Any, code: Any, error: Any, binding: Any) -> None:
    client = Client()
    if binding is not None:
        client.cookies["as_oauth"] = binding
    query = {k: v for k, v in {"state": state, "code": code, "error": error}.items() if v is not None}
    resp = client.get("/auth/discord/callback", query)
    assert resp.status_code in (400, 403, 429, 502, 503), (resp.status_code, query)
    assert SESSION_COOKIE not in resp.cookies and REFRESH_COOKIE not in resp.cookies
    assert b"oauth_state_invalid" in resp.content or resp.status_code in (429, 503)
    assert AuthSession.objects.count() == 0 and User.objects.count() == 0
