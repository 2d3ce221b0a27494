"""manage.py commands: documented behaviour, JSON output, clear errors on bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from sessions_core import store

from sessions_core.tokens import signing_keys

from sessions_core.store import keys as redis_keys
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE, auth_settings
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState, SigningKey, User
from sessions_core.store.client import get_redis
from sessions_core.services import session_revoke
from sessions_core.tokens import read_access_token

from .helpers import revoked_signals, signed_in, validate_status

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    "issue_session", "sessions", "revoke_sessions", "purge_expired_sessions", "rotate_signing_key",
    "flush_activity", "auth_report",
]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> object:
    return json.loads(run(*args, "--json"))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    proc = subprocess.run(
        [sys.executable, "manage.py", name, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: manage.py " + name in proc.stdout and len(proc.stdout.splitlines()) > 5


def test_a_bad_argument_exits_non_zero_with_a_clear_message():
    proc = subprocess.run(
        [sys.executable, "manage.py", "sessions", "--state", "bogus"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "invalid choice: 'bogus'" in proc.stderr


def test_issue_session_creates_the_user_and_prints_working_cookies_and_an_access_token():
    data = run_json("issue_session", "loadtest-1")
    user = User.objects.get(username="loadtest-1")
    assert data["user"] == {"id": user.pk, "username": "loadtest-1", "created": True}
    assert not user.has_usable_password()
    assert data["session_cookie"]["name"] == SESSION_COOKIE and data["refresh_cookie"]["name"] == REFRESH_COOKIE
    assert data["refresh_cookie"]["path"] == "/auth/"
    client = Client()
    client.cookies[SESSION_COOKIE] = data["session_cookie"]["value"]
    assert validate_status(client) == (200, "")
    claims = read_access_token(signing_keys.get_keyring(), data["access_token"])
    assert (claims.sub, claims.sid) == (user.pk, data["session_id"])
    refresher = Client()
    refresher.cookies[REFRESH_COOKIE] = data["refresh_cookie"]["value"]
    assert refresher.post("/auth/refresh").status_code == 200
    # A second run reuses the user; the text form prints both cookies and the token.
    text = run("issue_session", "loadtest-1")
    assert f"{SESSION_COOKIE}=" in text and f"{REFRESH_COOKIE}=" in text and "Access token" in text
    assert User.objects.filter(username="loadtest-1").count() == 1
    assert AuthSession.objects.filter(user=user, state=SessionState.ACTIVE).count() == 2


@pytest.mark.parametrize("args, message", [
    (["bad name!"], "Bad input"),
    (["ok", "--ip", "not-an-ip"], "Bad input"),
])
def test_issue_session_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run("issue_session", *args)
    assert not User.objects.exists()


def test_issue_session_refuses_an_inactive_user():
    User.objects.create(username="gone", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        run("issue_session", "gone")


def test_sessions_lists_and_filters(user):
    _, a = signed_in(user, ua="laptop")
    _, b = signed_in(user, ua="phone")
    session_revoke(session=AuthSession.objects.get(pk=b.session_id), reason=RevokeReason.LOGOUT)
    bob = User.objects.create(username="bob")
    _, c = signed_in(bob)
    assert {r["id"] for r in run_json("sessions")} == {a.session_id, c.session_id}
    assert {r["id"] for r in run_json("sessions", "--user", "alice", "--state", "all")} == {a.session_id, b.session_id}
    revoked = run_json("sessions", "--state", "revoked")
    assert [(r["id"], r["revoke_reason"], r["device"]) for r in revoked] == [(b.session_id, "logout", "phone")]
    table = run("sessions", "--user", "alice")
    assert table.splitlines()[0].split()[:3] == ["ID", "USER", "STATE"] and "laptop" in table
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("sessions", "--user", "nobody")


def test_revoke_sessions_by_id_by_user_and_all(user):
    bob = User.objects.create(username="bob")
    ca, a = signed_in(user)
    cb, b = signed_in(user)
    cc, c = signed_in(bob)
    with revoked_signals() as sent:
        out = run_json("revoke_sessions", "--session", a.session_id, "--note", "ticket 42")
    assert out == {"revoked": 1, "sessions": [a.session_id], "not_active": []}
    assert [s["sid"] for s in sent] == [a.session_id]
    assert validate_status(ca) == (401, "session_revoked") and validate_status(cb) == (200, "")
    assert SessionEvent.objects.get(session_id=a.session_id, kind="revoked").note == "ticket 42"
    # Again: not active, nothing to do, still success.
    assert run_json("revoke_sessions", "--session", a.session_id)["not_active"] == [a.session_id]

    with pytest.raises(CommandError, match="add --yes"):
        run("revoke_sessions", "--all")
    assert validate_status(cb)[0] == 200
    assert run_json("revoke_sessions", "--user", "alice") == {"revoked": 1, "users": ["alice"]}
    assert validate_status(cb) == (401, "session_revoked") and validate_status(cc)[0] == 200
    assert run_json("revoke_sessions", "--all", "--yes") == {"revoked": 1, "users": ["bob"]}
    assert validate_status(cc) == (401, "session_revoked")


def test_revoke_sessions_refuses_bad_input_and_changes_nothing(user):
    c, a = signed_in(user)
    for args, message in (
        (["--session", "nope"], "not a session id"),
        (["--session", a.session_id, "--session", "0" * 32], "No such session"),
        (["--user", "nobody"], "No user 'nobody'"),
        (["--user", "alice", "--actor", "alice"], "not a staff user"),
    ):
        with pytest.raises(CommandError, match=message):
            run("revoke_sessions", *args)
    assert validate_status(c) == (200, "")


def test_revoke_sessions_records_the_actor(user):
    admin = User.objects.create(username="ops", is_staff=True)
    _, a = signed_in(user)
    run("revoke_sessions", "--session", a.session_id, "--actor", "ops")
    row = AuthSession.objects.get(pk=a.session_id)
    assert row.revoked_by_id == admin.pk and row.revoke_reason == RevokeReason.ADMIN


def test_purge_deletes_only_rows_past_retention_and_is_idempotent(user):
    now = timezone.now()
    _, live = signed_in(user)
    _, recent = signed_in(user)
    _, old_revoked = signed_in(user)
    _, old_expired = signed_in(user)
    session_revoke(session=AuthSession.objects.get(pk=recent.session_id), reason=RevokeReason.LOGOUT)
    session_revoke(session=AuthSession.objects.get(pk=old_revoked.session_id), reason=RevokeReason.LOGOUT)
    AuthSession.objects.filter(pk=old_revoked.session_id).update(revoked_at=now - timedelta(days=31))
    AuthSession.objects.filter(pk=old_expired.session_id).update(expires_at=now - timedelta(days=31))
    assert run_json("purge_expired_sessions", "--dry-run")["matched"] == 2
    assert AuthSession.objects.count() == 4
    result = run_json("purge_expired_sessions")
    assert (result["matched"], result["deleted"]) == (2, 2)
    assert set(AuthSession.objects.values_list("pk", flat=True)) == {
        AuthSession.objects.get(pk=live.session_id).pk, AuthSession.objects.get(pk=recent.session_id).pk,
    }
    # The audit trail stays, detached from the deleted rows.
    assert SessionEvent.objects.filter(kind="revoked", session__isnull=True, user=user).count() == 1
    assert run_json("purge_expired_sessions")["deleted"] == 0
    assert run_json("purge_expired_sessions", "--days", "0")["deleted"] == 1  # the recent revocation
    with pytest.raises(CommandError, match="must not be negative"):
        run("purge_expired_sessions", "--days", "-1")


def test_rotate_signing_key_adds_a_key_and_explains_the_verify_window(user):
    client, issued = signed_in(user)
    old = signing_keys.get_keyring().signing.kid
    text = run("rotate_signing_key")
    new = SigningKey.objects.order_by("-created_at").first().kid
    assert new != old and f"Next signing key {new}: published in the JWKS now" in text
    assert signing_keys.get_keyring().signing.kid == old  # until every cached JWKS lists the new one
    assert f"Retiring key {old}" in text and "longest token lifetime is 1 h" in text
    assert SigningKey.objects.get(kid=old).retired_at is not None
    assert validate_status(client) == (200, "")  # old tokens still verify
    data = run_json("rotate_signing_key", "--if-older-than", "1")
    assert data["rotated"] is False
    data = run_json("rotate_signing_key", "--immediately")
    assert data["rotated"] is True and data["signing_kid"] == data["next_kid"]
    assert [r["kid"] for r in data["retired"]] == [new]
    assert data["verify_window_seconds"] == int(signing_keys.retired_key_window().total_seconds())


def test_flush_activity_carries_redis_activity_into_sql(user, settings):
    other_prefix_user = User.objects.create(username="bob")
    client, issued = signed_in(user)
    _, idle = signed_in(other_prefix_user)
    past = timezone.now() - timedelta(hours=2)
    AuthSession.objects.filter(pk__in=[issued.session_id, idle.session_id]).update(last_active_at=past)
    # Activity lands in Redis on a request; SQL is flushed at most once per interval.
    assert validate_status(client)[0] == 200
    la = int(get_redis().hget(redis_keys.session(user.pk, issued.session_id), "la"))
    get_redis().hset(redis_keys.session(other_prefix_user.pk, idle.session_id), "la", int(past.timestamp() * 1000))
    assert run_json("flush_activity", "--dry-run")["sessions_updated"] == 1
    assert AuthSession.objects.get(pk=issued.session_id).last_active_at == past
    out = run_json("flush_activity", "--batch-size", "1")
    assert out["scanned_keys"] >= 2 and out["sessions_updated"] == 1
    assert int(AuthSession.objects.get(pk=issued.session_id).last_active_at.timestamp() * 1000) == la
    assert AuthSession.objects.get(pk=idle.session_id).last_active_at == past
    assert run_json("flush_activity")["sessions_updated"] == 0  # idempotent
    # Keys of another deployment sharing the Redis (another prefix) are not touched.
    assert redis_keys.session_pattern().startswith(auth_settings.REDIS_KEY_PREFIX + ":")


def test_flush_activity_fails_clearly_when_redis_is_down(user, private_redis):
    signed_in(user)
    private_redis.stop()
    with pytest.raises(CommandError, match="Redis is unavailable"):
        run("flush_activity")
