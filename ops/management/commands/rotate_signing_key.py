"""``manage.py rotate_signing_key``: publish the next signing key; it takes over later.

The new key is in the JWKS at once but signs only after ``prepublication()``
(the JWKS's max-age plus ``KEY_CACHE_TTL``), so another service verifying with a
cached JWKS never meets a ``kid`` it lacks. At that moment the current key
retires; it keeps verifying for the longest token lifetime (plus the key cache),
so nobody is signed out, and the JWKS keeps publishing it until then.
``--immediately`` (a leaked key) skips the wait.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from sessions_core.tokens import signing_keys
from sessions_core.conf import auth_settings
from sessions_core.models import SigningKey
from ops.report import human

from ops.management.commands._common import write_json


class Command(BaseCommand):
    help = (
        "Add a new signing key (it signs every new token) and retire the current one, which keeps "
        "verifying for the longest token lifetime so no session is interrupted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-older-than", type=float, metavar="DAYS",
            help="Only rotate when the newest active key is older than DAYS (for cron).",
        )
        parser.add_argument(
            "--immediately", action="store_true",
            help="Sign with the new key at once (a leaked key): verifiers with a cached JWKS reject new tokens "
            "until their cache refreshes.",
        )
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        days = opts["if_older_than"]
        if days is not None and days < 0:
            raise CommandError("--if-older-than must not be negative.")
        try:
            active = list(SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at"))
        except DatabaseError as e:
            raise CommandError(f"The database is unavailable: {e}") from e
        if days is not None and active and timezone.now() - active[0].created_at < timedelta(days=days):
            age = timezone.now() - active[0].created_at
            result: dict[str, Any] = {"rotated": False, "signing_kid": active[0].kid, "age_days": round(age.total_seconds() / 86400, 2)}
            if opts["json"]:
                write_json(self.stdout, result)
            else:
                self.stdout.write(f"Not rotated: key {active[0].kid} is {result['age_days']} day(s) old (limit {days:g}).")
            return
        new = signing_keys.rotate_signing_key(immediately=opts["immediately"])
        grace = signing_keys.retired_key_window()
        retired = list(SigningKey.objects.filter(kid__in=[k.kid for k in active]).exclude(kid=new.kid))
        signs_from = new.created_at if opts["immediately"] else signing_keys.activates_at(new)
        result = {
            "rotated": True,
            "next_kid": new.kid,
            "signs_from": signs_from,
            "signing_kid": signing_keys.get_keyring().signing.kid,
            "retired": [
                {"kid": k.kid, "retired_at": k.retired_at, "verifies_until": (k.retired_at or timezone.now()) + grace}
                for k in retired
            ],
            "verify_window_seconds": int(grace.total_seconds()),
            "key_cache_seconds": int(auth_settings.KEY_CACHE_TTL.total_seconds()),
        }
        if opts["json"]:
            write_json(self.stdout, result)
            return
        if opts["immediately"]:
            self.stdout.write(f"New signing key {new.kid}: signs every new token from now on (--immediately).")
        else:
            self.stdout.write(
                f"Next signing key {new.kid}: published in the JWKS now; signs new tokens from "
                f"{signs_from:%Y-%m-%d %H:%M:%S} UTC, once every cached JWKS lists it "
                f"(JWKS max-age {human(auth_settings.JWKS_CACHE_MAX_AGE)} + key cache "
                f"{human(auth_settings.KEY_CACHE_TTL)})."
            )
        for k in result["retired"]:
            self.stdout.write(
                f"Retiring key {k['kid']}: signs until {k['retired_at']:%Y-%m-%d %H:%M:%S} UTC, then verifies the "
                f"tokens it signed until {k['verifies_until']:%Y-%m-%d %H:%M:%S} UTC, then is dropped from the "
                "key ring and the JWKS."
            )
        self.stdout.write(
            f"Why that long: the longest token lifetime is {human(signing_keys.longest_token_lifetime())} (session token "
            f"{human(auth_settings.SESSION_TOKEN_TTL)}, access token {human(auth_settings.ACCESS_TOKEN_TTL)}), "
            f"plus {human(auth_settings.KEY_CACHE_TTL)} for workers still signing with their cached key, "
            "so every token the old key signed has expired by then and nobody is signed out."
        )

