"""Django admin for users and sessions.

Sessions are read-only here: an admin ends them with the actions in
:mod:`ops.admin_actions` (through the service layer), never by editing
a row. No admin page shows a refresh hash or a PlayFab ticket: those fields are
excluded from every list, form and inline.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from ops import admin_actions
from ops.admin_login import throttled
from sessions_core.tokens.signing_keys import activates_at, get_keyring, retired_key_window
from sessions_core.models import AuthSession, SessionEvent, SessionState, SigningKey, User
from sessions_core.services import user_deactivate
from ops.session_states import STATUSES, filter_status, status_of
from ops.wording import count
from signin.pages import describe_device

# Never rendered by the admin, on any page.
SECRET_FIELDS = ("refresh_hash", "refresh_prev_hash", "playfab_ticket_enc")
SESSION_FIELDS = (
    "id", "user", "state", "revoke_reason", "revoked_at", "revoked_by", "created_at", "last_active_at",
    "expires_at", "absolute_expires_at", "user_agent", "ip", "refresh_generation", "refresh_rotated_at",
    "token_version", "playfab_ticket_expires_at",
)


class SessionStatusFilter(admin.SimpleListFilter):
    """Active / revoked / expired: "expired" means not revoked but past its idle or absolute expiry."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        return filter_status(queryset, value) if value in STATUSES else queryset


class ReadOnlyMixin:
    """No adding, editing or deleting; actions that need ``revoke`` ask for the change permission."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("sessions_core.change_authsession"))


# The app list beside every page takes 300 px a session list needs (Home lists the apps).
admin.site.enable_nav_sidebar = False


@admin.register(AuthSession)
class AuthSessionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Seven short columns: they fit a 1280 px window beside the filters (expiry is on the detail page).
    list_display = ("short_id", "user_link", "device", "ip", "created", "last_active", "status")
    list_filter = (SessionStatusFilter, "revoke_reason", "created_at")
    search_fields = ("user__username", "=user__discord_id", "user__discord_username")
    search_help_text = "Player name, account name, Discord id (exact), or a session id (whole, or its first 8+ characters)."
    list_select_related = ("user",)
    ordering = ("-created_at",)
    fields = SESSION_FIELDS
    exclude = SECRET_FIELDS
    readonly_fields = SESSION_FIELDS
    actions = [admin_actions.revoke_selected, admin_actions.revoke_all_of_session_users]
    list_per_page = 50

    @admin.display(description="session", ordering="id")
    def short_id(self, row: AuthSession) -> str:
        return row.id.hex[:12]

    @admin.display(description="user", ordering="user__discord_username")
    def user_link(self, row: AuthSession) -> str:
        url = reverse("admin:sessions_core_user_change", args=[row.user_id])
        return format_html('<a href="{}">{}</a>', url, row.user.display_name())

    @admin.display(description="device")
    def device(self, row: AuthSession) -> str:
        # The parsed name, as players see it; the raw User-Agent is the hover text and on the detail page.
        return format_html('<span title="{}">{}</span>', row.user_agent, describe_device(row.user_agent or ""))

    @admin.display(description="status")
    def status(self, row: AuthSession) -> str:
        # One column for state and reason: two would not fit a 1280 px screen beside the filters.
        state = status_of(row)
        return f"{state}: {row.get_revoke_reason_display()}" if row.revoke_reason else state

    # Compact UTC stamps: Django's long date format pushes the last columns off a 1280 px screen.
    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, row: AuthSession) -> str:
        return f"{row.created_at:%Y-%m-%d %H:%M}"

    @admin.display(description="last active (UTC)", ordering="last_active_at")
    def last_active(self, row: AuthSession) -> str:
        return f"{row.last_active_at:%Y-%m-%d %H:%M}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuthSession], search_term: str
    ) -> tuple[QuerySet[AuthSession], bool]:
        """The usual fields, plus sessions whose id starts with the term (as shown in lists and logs)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        bounds = session_id_bounds(search_term)
        if bounds is not None:
            found = found | queryset.filter(id__gte=bounds[0], id__lte=bounds[1])
        return found, may_have_duplicates

    def get_urls(self) -> list[URLPattern]:
        revoke = path(
            "<uuid:session_id>/revoke/", self.admin_site.admin_view(self.revoke_one), name="sessions_core_authsession_revoke"
        )
        return [revoke, *super().get_urls()]

    def revoke_one(self, request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
        """One session's revoke confirmation (the user page's "Revoke…" links land here); back to the user after."""
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        qs = AuthSession.objects.filter(pk=session_id)
        row = qs.select_related("user").first()
        if row is None:
            raise Http404("No such session.")
        response = admin_actions.revoke_selected(self, request, qs)
        if response is None:
            return HttpResponseRedirect(reverse("admin:sessions_core_user_change", args=[row.user_id]))
        return response


def session_id_bounds(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The id range of sessions whose hex id starts with ``term`` (8+ hex digits, dashes ignored), else None.

    A range, not ``startswith``: PostgreSQL keeps ids as ``uuid`` (text form with
    dashes) and SQLite as 32 hex digits; both order the same way.
    """
    digits = term.strip().lower().replace("-", "")
    if not 8 <= len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return uuid.UUID(hex=digits.ljust(32, "0")), uuid.UUID(hex=digits.ljust(32, "f"))


class AuthSessionInline(admin.TabularInline):
    """The user's active sessions and those of the last 30 days (the full list is one click away)."""

    model = AuthSession
    fk_name = "user"
    fields = ("session_link", "device", "ip", "created_at", "last_active_at", "expires_at", "status", "revoke")
    readonly_fields = fields
    exclude = SECRET_FIELDS
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-created_at",)
    verbose_name_plural = "sessions (active, and recent ones)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthSession]:
        recent = timezone.now() - timedelta(days=30)
        return super().get_queryset(request).filter(Q(state=SessionState.ACTIVE) | Q(created_at__gte=recent))

    @admin.display(description="session")
    def session_link(self, row: AuthSession) -> str:
        url = reverse("admin:sessions_core_authsession_change", args=[row.pk])
        return format_html('<a href="{}">{}</a>', url, row.id.hex[:12])

    @admin.display(description="status")
    def status(self, row: AuthSession) -> str:
        state = status_of(row)
        return f"{state}: {row.get_revoke_reason_display()}" if row.revoke_reason else state

    @admin.display(description="device")
    def device(self, row: AuthSession) -> str:
        return format_html('<span title="{}">{}</span>', row.user_agent, describe_device(row.user_agent or ""))

    @admin.display(description="")
    def revoke(self, row: AuthSession) -> str:
        # A link, not a button: the inline sits inside the user's change form, and forms do not nest.
        if status_of(row) != "active":
            return ""
        url = reverse("admin:sessions_core_authsession_revoke", args=[row.pk])
        return format_html('<a class="button" href="{}">Revoke…</a>', url)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("name", "username", "discord_id", "playfab_id", "active_sessions", "is_staff", "last_login")
    search_fields = ("username", "=discord_id", "discord_username", "=playfab_id", "email")
    search_help_text = "User name, Discord id (exact), Discord name, PlayFab id (exact) or email."
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Linked identities and tokens", {"fields": (
            "discord_id", "discord_username", "avatar_url", "playfab_id", "token_version", "all_sessions",
        )}),
    )
    # Identities are linked by sign-in and the token version moves only through the
    # "bump token version" action (which also updates Redis).
    readonly_fields = ("discord_id", "playfab_id", "token_version", "all_sessions", "last_login", "date_joined")
    inlines = [AuthSessionInline]
    actions = [admin_actions.revoke_all_of_users, admin_actions.bump_token_version]
    # Avatar URLs are https (Django 6 makes that the default; say so now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        now = timezone.now()
        live = Q(
            auth_sessions__state=SessionState.ACTIVE,
            auth_sessions__expires_at__gt=now,
            auth_sessions__absolute_expires_at__gt=now,
        )
        return super().get_queryset(request).annotate(n_active=Count("auth_sessions", filter=live))

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("sessions_core.change_authsession"))

    @admin.display(description="name", ordering="discord_username")
    def name(self, user: User) -> str:
        return user.display_name()

    @admin.display(description="active sessions", ordering="n_active")
    def active_sessions(self, user: User) -> int:
        return int(getattr(user, "n_active", 0))

    @admin.display(description="sessions")
    def all_sessions(self, user: User) -> str:
        if not user.pk:
            return "-"
        url = reverse("admin:sessions_core_authsession_changelist") + "?" + urlencode({"user__id__exact": user.pk})
        return format_html('<a href="{}">All sessions of {}</a>', url, user.display_name())

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Deactivating a user also ends their sessions (in Redis and on open sockets) and
        bumps their token version, through the service first so the audit names the admin."""
        ended: int | None = None
        if change and "is_active" in form.changed_data and not obj.is_active:
            actor = cast(User, request.user)  # the admin site admits only authenticated staff
            ended = user_deactivate(user=obj, actor=actor, note="account deactivated")
        super().save_model(request, obj, form, change)
        if ended is not None:
            self.message_user(request, f"The account is inactive; {count(ended, 'session')} ended.")


# The admin's password form is the one place here that takes a password: throttle it.
admin.site.login = throttled(admin.site.login)  # type: ignore[method-assign]


@admin.register(SessionEvent)
class SessionEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "cause", "user", "session_short", "actor", "note", "ip")
    list_filter = ("kind", "cause", "created_at")
    search_fields = ("user__username", "=user__discord_id", "actor__username", "note")
    list_select_related = ("user", "actor")
    fields = ("created_at", "kind", "cause", "user", "session", "actor", "note", "ip")
    readonly_fields = fields

    @admin.display(description="session")
    def session_short(self, event: SessionEvent) -> str:
        return event.session_id.hex[:12] if event.session_id else "-"


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Key ids and ages only: the private key and HMAC secret are never shown."""

    list_display = ("kid", "algorithm", "created_at", "retired_at", "verifies_until")
    fields = ("kid", "algorithm", "created_at", "retired_at", "verifies_until", "public_jwk")
    readonly_fields = fields
    exclude = ("private_key_enc", "hmac_secret_enc")

    @admin.display(description="verifies until")
    def verifies_until(self, key: SigningKey) -> str:
        now = timezone.now()
        if key.kid == get_keyring().signing.kid:
            return "signing new tokens" + (f" until {key.retired_at:%Y-%m-%d %H:%M} UTC" if key.retired_at else "")
        if key.retired_at is None and activates_at(key) > now:
            return f"published; signs from {activates_at(key):%Y-%m-%d %H:%M} UTC"
        if key.retired_at is None:
            return "active"
        return f"{key.retired_at + retired_key_window():%Y-%m-%d %H:%M} UTC"
