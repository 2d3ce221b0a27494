"""``manage.py issue_session USERNAME [--json]``: sign a user in from the command line.

Creates the user when needed and a session through ``session_create`` (the same
service a Discord sign-in uses, so the session cap and eviction apply), then
prints the session cookie, the refresh cookie and an access token. Operators use
it to reproduce a user's view; load tests use it to mint many sessions.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_core.conf import REFRESH_COOKIE, REFRESH_COOKIE_PATH, SESSION_COOKIE, SESSION_COOKIE_PATH
from sessions_core.errors import StoreUnavailable
from sessions_core.models import User
from sessions_core.services import session_create

from ops.management.commands._common import write_json


def _at(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=dt_timezone.utc).isoformat()


class Command(BaseCommand):
    help = (
        "Create USERNAME if needed and start a session for them: prints the session cookie, "
        "the refresh cookie (name and value) and an access token (--json for JSON)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="Site user name (created, without a password, if it does not exist).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("--ip", default="127.0.0.1", help="Client IP recorded with the session (default 127.0.0.1).")
        parser.add_argument("--user-agent", default="manage.py issue_session", help="Device recorded with the session.")

    def handle(self, *args: Any, **opts: Any) -> None:
        username: str = opts["username"]
        try:
            UnicodeUsernameValidator()(username)
            ip = str(ipaddress.ip_address(opts["ip"]))
        except (ValidationError, ValueError) as e:
            raise CommandError(f"Bad input: {getattr(e, 'messages', [e])[0]}") from e
        if len(username) > 150:
            raise CommandError("Bad input: a user name has at most 150 characters.")
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; activate the account first.")
        try:
            issued = session_create(user=user, ip=ip, user_agent=opts["user_agent"][:300])
        except StoreUnavailable as e:
            raise CommandError(f"Redis is unavailable, no session was created: {e.detail}") from e
        data: dict[str, Any] = {
            "user": {"id": user.pk, "username": user.username, "created": created},
            "session_id": issued.session_id,
            "session_cookie": {
                "name": SESSION_COOKIE, "value": issued.session_token, "path": SESSION_COOKIE_PATH,
                "expires_at": _at(issued.session_token_exp),
            },
            "refresh_cookie": {
                "name": REFRESH_COOKIE, "value": issued.refresh_token, "path": REFRESH_COOKIE_PATH,
                "expires_at": _at(issued.refresh_exp),
            },
            "cookie_header": f"{SESSION_COOKIE}={issued.session_token}; {REFRESH_COOKIE}={issued.refresh_token}",
            "access_token": issued.access_token,
            "access_expires_at": _at(issued.access_exp),
            "session_expires_at": issued.session_expires_at.isoformat(),
            "absolute_expires_at": issued.absolute_expires_at.isoformat(),
        }
        if opts["json"]:
            write_json(self.stdout, data)
            return
        w = self.stdout.write
        w(f"User {user.username} (id {user.pk}{', created' if created else ''}); session {issued.session_id}")
        w(f"Session expires {data['session_expires_at']} (absolute limit {data['absolute_expires_at']})")
        w(f"Session cookie  {SESSION_COOKIE}={issued.session_token}  (Path={SESSION_COOKIE_PATH}, until {data['session_cookie']['expires_at']})")
        w(f"Refresh cookie  {REFRESH_COOKIE}={issued.refresh_token}  (Path={REFRESH_COOKIE_PATH})")
        w(f"Access token    {issued.access_token}")
        w(f"                (until {data['access_expires_at']}; send as ?access_token= to the hub or as a Bearer header)")
        w(f"Cookie header   Cookie: {data['cookie_header']}")
