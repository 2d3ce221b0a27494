"""Durable truth: users with their linked identities, sessions, signing keys, events.

Redis holds the hot copy of each live session (see ``store.py``); these rows are
what a Redis flush or restart is rebuilt from.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A site user, linked to a Discord account and a PlayFab player."""

    discord_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    discord_username = models.CharField(max_length=64, blank=True)
    avatar_url = models.URLField(max_length=300, blank=True)
    playfab_id = models.CharField(max_length=32, blank=True)
    # Bumping it invalidates every session and access token of the user at once.
    token_version = models.PositiveIntegerField(default=1)

    def display_name(self) -> str:
        return self.discord_username or self.username

    def __str__(self) -> str:
        # What players see on the site; the account name ("discord-<id>") stays in its own column.
        return self.display_name()


class SessionState(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", "Signed out"
    LOGOUT_ALL = "logout_all", "Signed out everywhere"
    ENDED_BY_USER = "ended_by_user", "Ended by the user from another device"
    ADMIN = "admin", "Revoked by an admin"
    EVICTED = "evicted", "Evicted: too many sessions"
    REUSE = "refresh_reuse", "Refresh token reuse detected"
    TOKEN_VERSION = "token_version", "Token version bumped"
    IDLE = "idle", "Idle timeout"
    ACCOUNT_DISABLED = "account_disabled", "Account deactivated"


class AuthSession(models.Model):
    """One signed-in device. The refresh secret is stored only as an HMAC."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions")
    state = models.CharField(max_length=16, choices=SessionState.choices, default=SessionState.ACTIVE)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Idle expiry: slides forward on refresh, never past absolute_expires_at.
    expires_at = models.DateTimeField()
    absolute_expires_at = models.DateTimeField()
    last_active_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Refresh family state: HMACs of the current token and its immediate predecessor.
    refresh_hash = models.CharField(max_length=64)
    refresh_prev_hash = models.CharField(max_length=64, blank=True)
    refresh_generation = models.PositiveIntegerField(default=0)
    refresh_rotated_at = models.DateTimeField(null=True, blank=True)
    # The highest refresh generation seen in use (a request authenticated by a token
    # issued with it, or a refresh presenting it). Decides whether a late predecessor
    # is a lost answer (recovered) or reuse; see services/refresh.py.
    refresh_generation_in_use = models.PositiveIntegerField(default=0)
    # The refresh chain's per-session key (tokens.refresh), encrypted at rest; empty
    # for sessions made before it existed (they keep the SECRET_KEY-keyed chain).
    refresh_seed_enc = models.TextField(blank=True, default="")
    # The user's token version when the session was made.
    token_version = models.PositiveIntegerField(default=1)
    # PlayFab session ticket, encrypted with a key derived from SECRET_KEY.
    playfab_ticket_enc = models.TextField(blank=True)
    playfab_ticket_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "state"]),
            models.Index(fields=["expires_at"]),
        ]
        verbose_name = "session"

    def __str__(self) -> str:
        return f"session {self.id.hex[:8]} of {self.user_id}"

    @property
    def is_expired(self) -> bool:
        now = timezone.now()
        return self.expires_at <= now or self.absolute_expires_at <= now

    @property
    def is_active(self) -> bool:
        return self.state == SessionState.ACTIVE and not self.is_expired


class SessionEvent(models.Model):
    """An audit record: reuse detections with their cause, revocations with who and why."""

    class Kind(models.TextChoices):
        CREATED = "created"
        REFRESH_REUSE = "refresh_reuse"
        REVOKED = "revoked"
        EVICTED = "evicted"
        TOKEN_VERSION = "token_version"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # For reuse: concurrent_refresh, lost_answer_recovered, replay_outside_window, ancestor_replay
    # (client_lost_answer on events recorded before lost answers were recovered).
    cause = models.CharField(max_length=64, blank=True)
    session = models.ForeignKey(AuthSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]


class SigningKey(models.Model):
    """A key pair with an id. New tokens use the newest; retired keys verify until their tokens lapse."""

    kid = models.CharField(max_length=32, primary_key=True)
    algorithm = models.CharField(max_length=16, default="EdDSA")
    # Ed25519 private key (PKCS8 DER) and a 32-byte HMAC secret, both encrypted at rest.
    private_key_enc = models.TextField()
    hmac_secret_enc = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
