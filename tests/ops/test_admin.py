"""The Django admin: find sessions, end them (confirmed, recorded, effective at once), never show secrets."""
from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from sessions_core import store

from sessions_core.tokens import crypto

from sessions_core.tokens import signing_keys
from sessions_core.errors import SessionRevoked
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState, User
from sessions_core.services import session_revoke
from sessions_core.tokens import read_access_token

from .helpers import events, revoked_signals, security_log_lines, signed_in, validate_status

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = "/admin/sessions_core/authsession/"
USERS = "/admin/sessions_core/user/"


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-unused")


@pytest.fixture
def admin(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def access_ok(token: str) -> bool | None:
    claims = read_access_token(signing_keys.get_keyring(), token)
    asyncio.run(store.acheck_access(claims.sub, claims.sid, claims.jti, claims.tv))
    return True


def secrets_of(*sids: str) -> list[str]:
    out: list[str] = []
    for row in AuthSession.objects.filter(pk__in=sids):
        out += [v for v in (row.refresh_hash, row.refresh_prev_hash, row.playfab_ticket_enc) if v]
    return out


def test_sessions_list_filters_by_computed_status_and_searches_by_discord_id(admin, user):
    bob = User.objects.create(username="bob", discord_id="2002")
    _, live = signed_in(user, ua="Firefox on Linux")
    _, gone = signed_in(user, ua="Old phone")
    _, stale = signed_in(user, ua="Forgotten laptop")
    _, bobs = signed_in(bob, ua="Bob's tablet")
    session_revoke(session=AuthSession.objects.get(pk=gone.session_id), reason=RevokeReason.LOGOUT)
    AuthSession.objects.filter(pk=stale.session_id).update(expires_at=timezone.now() - timedelta(minutes=1))

    def ids(query: str) -> set[str]:
        resp = admin.get(SESSIONS + query)
        assert resp.status_code == 200
        return {s.id.hex for s in resp.context["cl"].result_list}

    assert ids("") == {live.session_id, gone.session_id, stale.session_id, bobs.session_id}
    assert ids("?status=active") == {live.session_id, bobs.session_id}
    assert ids("?status=revoked") == {gone.session_id}
    assert ids("?status=expired") == {stale.session_id}
    assert ids("?q=1001") == {live.session_id, gone.session_id, stale.session_id}  # alice's Discord id
    assert ids("?q=bob") == {bobs.session_id}
    page = admin.get(SESSIONS + "?status=active").content.decode()
    for column in ("Firefox on Linux", "127.0.0.1", "active"):
        assert column in page


def test_no_admin_page_shows_a_token_hash_or_a_playfab_ticket(admin, user):
    client, issued = signed_in(user)
    ticket = crypto.encrypt(b"PLAYFAB-TICKET-SECRET")
    AuthSession.objects.filter(pk=issued.session_id).update(playfab_ticket_enc=ticket)
    assert client.post("/auth/refresh").status_code == 200  # now there is a predecessor hash too
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.refresh_prev_hash
    forbidden = secrets_of(issued.session_id) + [
        "PLAYFAB-TICKET-SECRET", issued.refresh_token, issued.session_token, issued.access_token,
    ]
    pages = [
        SESSIONS, f"{SESSIONS}{issued.session_id}/change/", f"{USERS}{user.pk}/change/", USERS,
        "/admin/sessions_core/sessionevent/", "/admin/sessions_core/signingkey/",
    ]
    for url in pages:
        resp = admin.get(url)
        assert resp.status_code == 200, url
        body = resp.content.decode()
        for secret in forbidden:
            assert secret not in body, f"{url} shows a secret"
        assert not re.search(r'name="(refresh_hash|refresh_prev_hash|playfab_ticket_enc|private_key_enc|hmac_secret_enc)"', body)
    # The session page is read-only: no form inputs for its fields, and saving is refused.
    detail = admin.get(f"{SESSIONS}{issued.session_id}/change/").content.decode()
    assert "name=\"state\"" not in detail, detail[detail.find("name=\"state\"") - 300:][:400]
    assert issued.session_id[:8] in detail
    assert admin.post(f"{SESSIONS}{issued.session_id}/change/", {"state": "revoked"}).status_code == 403
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.ACTIVE


def test_revoke_selected_asks_for_confirmation_and_a_reason_then_ends_the_session_everywhere(admin, staff, user):
    client, issued = signed_in(user)
    other_client, other = signed_in(user)
    form = {"action": "revoke_selected", "_selected_action": [issued.session_id], "index": "0"}

    confirm = admin.post(SESSIONS, form)
    assert confirm.status_code == 200
    assert b"Revoke this session?" in confirm.content and b'name="reason"' in confirm.content
    assert validate_status(client) == (200, "")  # nothing happened yet

    missing_reason = admin.post(SESSIONS, {**form, "confirm": "yes", "reason": "  "})
    assert missing_reason.status_code == 200 and b"This field is required" in missing_reason.content
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.ACTIVE

    with revoked_signals() as sent, security_log_lines() as lines:
        done = admin.post(SESSIONS, {**form, "confirm": "yes", "reason": "reported stolen laptop"})
    assert done.status_code == 302
    row = AuthSession.objects.get(pk=issued.session_id)
    assert (row.state, row.revoke_reason, row.revoked_by_id) == (SessionState.REVOKED, RevokeReason.ADMIN, staff.pk)
    event = SessionEvent.objects.get(session_id=issued.session_id, kind=SessionEvent.Kind.REVOKED)
    assert (event.actor_id, event.note) == (staff.pk, "reported stolen laptop")
    assert LogEntry.objects.filter(object_id=str(row.pk), change_message__contains="reported stolen laptop").exists()
    # Effective at once: Redis refuses the session and its access token; sockets get the signal.
    assert sent == [{"uid": user.pk, "sid": issued.session_id, "reason": "admin"}]
    assert validate_status(client) == (401, "session_revoked")
    with pytest.raises(SessionRevoked):
        access_ok(issued.access_token)
    assert validate_status(other_client) == (200, "")
    logged = {e["event"]: e for e in events(lines)}
    assert logged["session.revoked"]["actor_id"] == staff.pk
    assert logged["admin.sessions_revoked"]["actor_id"] == staff.pk
    assert logged["admin.sessions_revoked"]["sessions"] == 1


def test_user_actions_revoke_all_and_bump_token_version(admin, staff, user):
    clients = [signed_in(user, ua=f"device {i}") for i in range(3)]
    bob = User.objects.create(username="bob")
    bob_client, _ = signed_in(bob)
    form = {"action": "revoke_all_of_users", "_selected_action": [str(user.pk)], "index": "0"}
    assert b"End every active session of this user" in admin.post(USERS, form).content
    with revoked_signals() as sent:
        assert admin.post(USERS, {**form, "confirm": "yes", "reason": "account compromised"}).status_code == 302
    assert sorted(s["sid"] for s in sent) == sorted(i.session_id for _, i in clients)
    for c, _ in clients:
        assert validate_status(c) == (401, "session_revoked")
    assert validate_status(bob_client) == (200, "")
    assert SessionEvent.objects.filter(kind="revoked", user=user, actor=staff, note="account compromised").count() == 3

    fresh_client, fresh = signed_in(user)
    form = {"action": "bump_token_version", "_selected_action": [str(user.pk)], "index": "0"}
    assert b"Invalidate every token" in admin.post(USERS, form).content
    assert admin.post(USERS, {**form, "confirm": "yes", "reason": "rotate everything"}).status_code == 302
    user.refresh_from_db()
    assert user.token_version == 2
    assert validate_status(fresh_client)[0] == 401
    with pytest.raises(SessionRevoked):
        access_ok(fresh.access_token)
    assert SessionEvent.objects.filter(kind="token_version", user=user, actor=staff, note="rotate everything").exists()


def test_revoke_all_from_the_sessions_list_ends_every_session_of_those_users(admin, user):
    a, ia = signed_in(user)
    b, _ = signed_in(user)
    form = {"action": "revoke_all_of_session_users", "_selected_action": [ia.session_id], "index": "0"}
    assert admin.post(SESSIONS, {**form, "confirm": "yes", "reason": "all of alice"}).status_code == 302
    assert validate_status(a)[0] == 401 and validate_status(b)[0] == 401


def test_staff_without_the_change_permission_sees_sessions_but_cannot_revoke(user):
    viewer = User.objects.create(username="viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_authsession", "view_user"]))
    client = Client()
    client.force_login(viewer)
    c, issued = signed_in(user)
    page = client.get(SESSIONS)
    assert page.status_code == 200 and b"revoke_selected" not in page.content
    form = {"action": "revoke_selected", "_selected_action": [issued.session_id], "confirm": "yes", "reason": "x"}
    client.post(SESSIONS, form)
    assert validate_status(c) == (200, "")
    assert client.get(USERS).status_code == 200


def test_the_user_page_shows_linked_ids_and_sessions_and_deactivation_ends_them(admin, user):
    c, issued = signed_in(user, ua="Chrome on Windows")
    page = admin.get(f"{USERS}{user.pk}/change/")
    body = page.content.decode()
    assert "1001" in body and "PF1" in body and "Chrome on Windows" in body and issued.session_id[:12] in body
    assert 'name="token_version"' not in body and 'name="discord_id"' not in body  # read-only
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None and not isinstance(v, list)}
    data.update({"username": user.username, "is_active": "", "discord_username": "Alice", "avatar_url": ""})
    data.update({f"auth_sessions-{k}": v for k, v in (("TOTAL_FORMS", 1), ("INITIAL_FORMS", 1), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 0))})
    data.update({"auth_sessions-0-id": issued.session_id, "auth_sessions-0-user": user.pk})
    data.pop("is_active", None)  # unchecked checkbox: absent from the POST
    resp = admin.post(f"{USERS}{user.pk}/change/", data)
    assert resp.status_code == 302, resp.content[:2000]
    user.refresh_from_db()
    assert not user.is_active
    assert validate_status(c) == (401, "session_revoked")


@pytest.mark.asyncio
async def test_an_admin_revoke_closes_the_users_open_websocket_without_reconnect(staff, user):
    from asgiref.sync import sync_to_async

    from tests.realtime.helpers import open_hub

    issued = await sync_to_async(signed_in)(user)
    hub = await open_hub(issued[1].access_token)

    def admin_revokes() -> int:
        client = Client()
        client.force_login(staff)
        form = {"action": "revoke_selected", "_selected_action": [issued[1].session_id], "index": "0",
                "confirm": "yes", "reason": "suspicious sign-in"}
        return client.post(SESSIONS, form).status_code

    try:
        assert await sync_to_async(admin_revokes)() == 302
        revoked = await hub.call("sessionRevoked", timeout=1)
        assert revoked["arguments"] == [{"reason": "admin"}]
        close = await hub.next(lambda m: m.get("type") == 7, timeout=1)
        assert close.get("allowReconnect") is not True
    finally:
        await hub.disconnect()
