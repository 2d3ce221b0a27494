"""``manage.py revoke_sessions``: end sessions by id, of one user, or of everyone.

Every revocation goes through ``session_revoke``/``session_revoke_all``: Redis
refuses the session at once, its access tokens are blacklisted, open hub
connections are closed (``session_revoked``), and a ``SessionEvent`` records
the reason, the optional acting user and the note.

Before changing anything it checks that the Redis it talks to holds the target
sessions. An active session that Redis has never heard of usually means this
process uses another Redis than the running site (say ``REDIS_URL`` unset here
while the site runs on its own): revoking in SQL alone would leave the site
serving the session from its Redis. The command then refuses, changes nothing
and exits non-zero; ``--allow-missing`` is for a Redis known to have been
flushed, where the next request rebuilds the session from SQL anyway.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_core import store
from sessions_core.errors import StoreUnavailable
from sessions_core.models import AuthSession, RevokeReason, SessionState, User
from sessions_core.services import session_revoke, session_revoke_all

from ops.management.commands._common import user_by_name, user_label, write_json

# Reasons an operator may give; the others are the system's own (logout, eviction, reuse...).
OPERATOR_REASONS = (RevokeReason.ADMIN.value, RevokeReason.IDLE.value)


class Command(BaseCommand):
    help = (
        "Revoke sessions: --session ID (repeatable), --user NAME (all of theirs), or --all --yes "
        "(every active session). Effective at once in Redis and on open connections."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--session", action="append", metavar="ID", help="A session id (hex or UUID form).")
        target.add_argument(
            "--user", metavar="NAME",
            help="Every active session of this user (account name, Discord id, user id or display name).",
        )
        target.add_argument("--all", action="store_true", help="Every active session of every user (needs --yes).")
        parser.add_argument("--yes", action="store_true", help="Confirm --all.")
        parser.add_argument("--reason", choices=OPERATOR_REASONS, default=RevokeReason.ADMIN.value)
        parser.add_argument("--note", default="", help="Why (kept with each revocation, at most 300 characters).")
        parser.add_argument("--actor", metavar="NAME", help="Staff user to record as the one who revoked.")
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")
        parser.add_argument(
            "--allow-missing", action="store_true",
            help="Revoke even sessions this Redis does not hold (only after a Redis flush or restart).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if len(opts["note"]) > 300:
            raise CommandError("--note has at most 300 characters.")
        actor = self._actor(opts["actor"])
        note = opts["note"] or "manage.py revoke_sessions"
        if opts["all"] and not opts["yes"]:
            raise CommandError("--all ends every active session of every user; add --yes to confirm.")
        try:
            if opts["session"]:
                rows = self._rows_by_ids(opts["session"])
                if not opts["allow_missing"]:
                    _require_held(r for r in rows if r.state == SessionState.ACTIVE)
                outcome = self._by_ids(rows, opts["reason"], actor, note)
            elif opts["user"]:
                user = user_by_name(opts["user"])
                if not opts["allow_missing"]:
                    _require_held(AuthSession.objects.filter(user=user, state=SessionState.ACTIVE))
                n = session_revoke_all(user=user, reason=opts["reason"], actor=actor, note=note)
                outcome = {"revoked": n, "users": [user.username], "names": [user_label(user)]}
            else:
                if not opts["allow_missing"]:
                    _require_held(AuthSession.objects.filter(state=SessionState.ACTIVE))
                outcome = self._everyone(opts["reason"], actor, note)
        except StoreUnavailable as e:
            raise CommandError(
                f"Redis at {_where()} is unavailable; nothing was revoked there: {e.detail}"
            ) from e
        if opts["json"]:
            outcome.pop("names", None)
            write_json(self.stdout, outcome)
            return
        n = outcome["revoked"]
        whose = f" of {', '.join(outcome['names'])}" if outcome.get("names") else ""
        self.stdout.write(f"Revoked {n} session{'' if n == 1 else 's'}{whose}.")
        for sid in outcome.get("not_active", []):
            self.stdout.write(f"Session {sid} was not active; nothing to do.")

    def _actor(self, name: str | None) -> User | None:
        if not name:
            return None
        user = user_by_name(name)
        if not user.is_staff:
            raise CommandError(f"--actor {name!r} is not a staff user.")
        return user

    def _rows_by_ids(self, raw_ids: list[str]) -> list[AuthSession]:
        ids = []
        for raw in raw_ids:
            try:
                ids.append(uuid.UUID(raw.strip()))
            except ValueError as e:
                raise CommandError(f"{raw!r} is not a session id.") from e
        rows = {r.pk: r for r in AuthSession.objects.filter(pk__in=ids)}
        missing = [i.hex for i in ids if i not in rows]
        if missing:
            raise CommandError(f"No such session: {', '.join(missing)}. Nothing was revoked.")
        return [rows[i] for i in dict.fromkeys(ids)]

    def _by_ids(self, rows: list[AuthSession], reason: str, actor: User | None, note: str) -> dict[str, Any]:
        revoked: list[str] = []
        not_active: list[str] = []
        for row in rows:
            changed = session_revoke(session=row, reason=reason, actor=actor, cause="manage.py", note=note)
            (revoked if changed else not_active).append(row.id.hex)
        return {"revoked": len(revoked), "sessions": revoked, "not_active": not_active}

    def _everyone(self, reason: str, actor: User | None, note: str) -> dict[str, Any]:
        total, users, names = 0, [], []
        user_ids = AuthSession.objects.filter(state=SessionState.ACTIVE).values_list("user_id", flat=True).distinct()
        for user in User.objects.filter(pk__in=list(user_ids)).order_by("pk"):
            n = session_revoke_all(user=user, reason=reason, actor=actor, note=note)
            if n:
                total += n
                users.append(user.username)
                names.append(user_label(user))
        return {"revoked": total, "users": users, "names": names}


def _where() -> str:
    """The Redis this process uses, without credentials."""
    return str(settings.REDIS_URL).rsplit("@", 1)[-1]


def _require_held(rows: Iterable[AuthSession]) -> None:
    """Raise ``CommandError`` (changing nothing) if this Redis lacks any of these active sessions."""
    by_user: dict[int, list[str]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row.id.hex)
    absent: list[str] = []
    for uid, sids in by_user.items():
        there = store.held(uid, sids)
        absent.extend(sid for sid in sids if sid not in there)
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise CommandError(
            f"Nothing was revoked: the Redis at {_where()} does not hold the active {'session' if len(absent) == 1 else 'sessions'} {shown}. "
            "The running site probably uses another Redis and would keep serving them. Run this command "
            "with the site's REDIS_URL (left unset, manage.py uses the one `make run` recorded in "
            ".run/redis.url), or add --allow-missing if this Redis was flushed or restarted."
        )
