"""The admin as staff meet it: player names, readable devices, search by session id,
counted nouns, and a user page whose sessions each have a revoke button."""
from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from sessions_core.models import AuthSession, SessionState, User

from .helpers import signed_in, validate_status

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = "/admin/sessions_core/authsession/"
USERS = "/admin/sessions_core/user/"
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-unused"))
    return client


@pytest.fixture
def alice(db) -> User:
    return User.objects.create(username="discord-936076031202235431", discord_id="936076031202235431", discord_username="alice")


def _rows(page) -> list[str]:
    """The rows of the change list's result table."""
    body = page.content.decode()
    tbody = body.split('id="result_list"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return tbody.split("<tr")[1:]


def test_the_session_list_shows_the_player_name_and_a_parsed_device(admin, alice):
    signed_in(alice, ua=CHROME_LINUX)
    page = admin.get(SESSIONS)
    [row] = _rows(page)
    assert ">alice</a>" in row and "discord-936076031202235431" not in row.split("title=")[0]
    assert ">Chrome on Linux</span>" in row
    assert row.count("<td") + row.count("<th") <= 9  # checkbox + eight columns: fits at 1280 px
    users = admin.get(USERS).content.decode()
    assert "<td class=\"field-name\">alice</td>" in users or ">alice<" in users


def test_search_finds_a_session_by_its_id_or_the_prefix_shown_in_lists(admin, alice):
    _, a = signed_in(alice)
    _, b = signed_in(alice)
    for term in (a.session_id, str(uuid.UUID(a.session_id)), a.session_id[:12], a.session_id[:8].upper()):
        page = admin.get(SESSIONS, {"q": term})
        body = page.content.decode()
        assert a.session_id[:12] in body and b.session_id[:12] not in body, term
    # Too short or not hex: an ordinary name search, no id range.
    assert b"0 sessions" in admin.get(SESSIONS, {"q": "zzzzzzzzzz"}).content


def test_confirmation_and_messages_count_properly(admin, alice):
    _, a = signed_in(alice)
    _, b = signed_in(alice)
    form = {"action": "revoke_selected", "_selected_action": [a.session_id], "index": "0"}
    assert b"Revoke this session? Its device is signed out" in admin.post(SESSIONS, form).content
    two = {**form, "_selected_action": [a.session_id, b.session_id]}
    assert b"Revoke these 2 sessions? Their devices are signed out" in admin.post(SESSIONS, two).content
    done = admin.post(SESSIONS, {**form, "confirm": "yes", "reason": "stolen"}, follow=True)
    assert b"Revoked 1 session." in done.content and b"session(s)" not in done.content


def test_the_user_page_lists_sessions_with_a_revoke_button_that_confirms_then_ends_one(admin, alice):
    client_a, a = signed_in(alice, ua=CHROME_LINUX)
    client_b, b = signed_in(alice, ua="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Version/17.0 Mobile Safari/604.1")
    page = admin.get(f"{USERS}{alice.pk}/change/").content.decode()
    assert "Chrome on Linux" in page and "Safari on iPhone" in page
    revoke_url = f"{SESSIONS}{uuid.UUID(a.session_id)}/revoke/"
    assert page.count("Revoke…") == 2 and f'href="{revoke_url}"' in page
    confirm = admin.get(revoke_url)
    assert confirm.status_code == 200 and b"Revoke this session?" in confirm.content
    assert validate_status(client_a) == (200, "")  # a GET changes nothing
    done = admin.post(revoke_url, {"confirm": "yes", "reason": "lost phone"})
    assert done.status_code == 302 and done["Location"] == f"{USERS}{alice.pk}/change/"
    assert validate_status(client_a) == (401, "session_revoked") and validate_status(client_b) == (200, "")
    assert admin.get(f"{USERS}{alice.pk}/change/").content.decode().count("Revoke…") == 1
    assert admin.get(f"{SESSIONS}{uuid.uuid4()}/revoke/").status_code == 404


def test_the_revoke_button_needs_the_change_permission(alice):
    viewer = User.objects.create(username="viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_authsession", "view_user"]))
    client = Client()
    client.force_login(viewer)
    c, a = signed_in(alice)
    url = f"{SESSIONS}{uuid.UUID(a.session_id)}/revoke/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes", "reason": "x"}).status_code == 403
    assert AuthSession.objects.get(pk=a.session_id).state == SessionState.ACTIVE
