"""``manage.py revoke_sessions``: end sessions by id, of one user, or of everyone.

Every revocation goes through ``session_revoke``/``session_revoke_all``: Redis
refuses the session at once, its access tokens are blacklisted, open hub
connections are closed (``session_revoked``), and a ``SessionEvent`` records
the reason, the optional acting user and the note.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_core.errors import StoreUnavailable
from sessions_core.models import AuthSession, RevokeReason, SessionState, User
from sessions_core.services import session_revoke, session_revoke_all

from ops.management.commands._common import user_by_name, write_json

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
        target.add_argument("--user", metavar="NAME", help="Every active session of this user.")
        target.add_argument("--all", action="store_true", help="Every active session of every user (needs --yes).")
        parser.add_argument("--yes", action="store_true", help="Confirm --all.")
        parser.add_argument("--reason", choices=OPERATOR_REASONS, default=RevokeReason.ADMIN.value)
        parser.add_argument("--note", default="", help="Why (kept with each revocation, at most 300 characters).")
        parser.add_argument("--actor", metavar="NAME", help="Staff user to record as the one who revoked.")
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if len(opts["note"]) > 300:
            raise CommandError("--note has at most 300 characters.")
        actor = self._actor(opts["actor"])
        note = opts["note"] or "manage.py revoke_sessions"
        try:
            if opts["session"]:
                outcome = self._by_ids(opts["session"], opts["reason"], actor, note)
            elif opts["user"]:
                user = user_by_name(opts["user"])
                n = session_revoke_all(user=user, reason=opts["reason"], actor=actor, note=note)
                outcome = {"revoked": n, "users": [user.username]}
            else:
                if not opts["yes"]:
                    raise CommandError("--all ends every active session of every user; add --yes to confirm.")
                outcome = self._everyone(opts["reason"], actor, note)
        except StoreUnavailable as e:
            raise CommandError(f"Redis is unavailable; the revocation did not complete: {e.detail}") from e
        if opts["json"]:
            write_json(self.stdout, outcome)
            return
        self.stdout.write(f"Revoked {outcome['revoked']} session(s).")
        for sid in outcome.get("not_active", []):
            self.stdout.write(f"Session {sid} was not active; nothing to do.")

    def _actor(self, name: str | None) -> User | None:
        if not name:
            return None
        user = user_by_name(name)
        if not user.is_staff:
            raise CommandError(f"--actor {name!r} is not a staff user.")
        return user

    def _by_ids(self, raw_ids: list[str], reason: str, actor: User | None, note: str) -> dict[str, Any]:
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
        revoked: list[str] = []
        not_active: list[str] = []
        for sid in ids:
            changed = session_revoke(session=rows[sid], reason=reason, actor=actor, cause="manage.py", note=note)
            (revoked if changed else not_active).append(sid.hex)
        return {"revoked": len(revoked), "sessions": revoked, "not_active": not_active}

    def _everyone(self, reason: str, actor: User | None, note: str) -> dict[str, Any]:
        total, users = 0, []
        user_ids = AuthSession.objects.filter(state=SessionState.ACTIVE).values_list("user_id", flat=True).distinct()
        for user in User.objects.filter(pk__in=list(user_ids)).order_by("pk"):
            n = session_revoke_all(user=user, reason=reason, actor=actor, note=note)
            if n:
                total += n
                users.append(user.username)
        return {"revoked": total, "users": users}
