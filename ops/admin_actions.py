"""Admin actions that end sessions: confirmed, with a reason, through the services.

Each action shows a confirmation page listing what it will do and asking why;
only the confirmed POST acts. The work goes through ``session_revoke``,
``session_revoke_all`` and ``user_bump_token_version``, so it is effective in
Redis at once and the realtime app closes the sockets (``session_revoked``);
the services record a ``SessionEvent`` with the acting admin and the reason, and
a security-log event with the actor's id.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from sessions_core import security_log
from sessions_core.models import AuthSession, RevokeReason, User
from sessions_core.services import session_revoke, session_revoke_all, user_bump_token_version
from signin.pages import describe_device

from ops.wording import count, these

CONFIRM_TEMPLATE = "admin/sessions_core/confirm_action.html"


class ReasonForm(forms.Form):
    """Why the admin is acting (kept with the revocation as the event's note)."""

    reason = forms.CharField(
        max_length=300,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with each revocation, with your user name and the time.",
    )


def _confirm(
    modeladmin: Any,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    summary: str,
    items: Iterable[str],
    perform: Callable[[str], None],
) -> TemplateResponse | None:
    """Show the confirmation page, or (on its confirmed POST with a reason) run ``perform``."""
    if request.POST.get("confirm") == "yes":
        form = ReasonForm(request.POST)
        if form.is_valid():
            perform(form.cleaned_data["reason"])
            return None
    else:
        form = ReasonForm()
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "summary": summary,
        "items": list(items),
        "form": form,
        "action": action,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": opts,
        "app_label": opts.app_label,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def _log(modeladmin: Any, request: HttpRequest, obj: Model, message: str) -> None:
    """Django's admin history entry for ``obj`` (LogEntry), next to our own SessionEvent."""
    modeladmin.log_change(request, obj, message)


def _actor(request: HttpRequest) -> User:
    # The admin site only admits authenticated, active staff users.
    return cast(User, request.user)


@admin.action(description="Revoke selected sessions…", permissions=["revoke"])
def revoke_selected(modeladmin: Any, request: HttpRequest, queryset: QuerySet[AuthSession]) -> TemplateResponse | None:
    rows = list(queryset.select_related("user").order_by("user__username", "-created_at"))

    def perform(reason: str) -> None:
        actor = _actor(request)
        ended = 0
        for row in rows:
            if session_revoke(session=row, reason=RevokeReason.ADMIN, actor=actor, cause="admin", note=reason):
                ended += 1
                _log(modeladmin, request, row, f"Revoked: {reason}")
        security_log.event(
            "admin.sessions_revoked", actor_id=actor.pk, sessions=ended, session_ids=[r.id.hex for r in rows]
        )
        skipped = len(rows) - ended
        modeladmin.message_user(request, f"Revoked {count(ended, 'session')}.", messages.SUCCESS)
        if skipped:
            modeladmin.message_user(
                request, f"{count(skipped, 'selected session')} {'was' if skipped == 1 else 'were'} no longer active.",
                messages.WARNING,
            )

    return _confirm(
        modeladmin, request, queryset, action="revoke_selected", title="Revoke sessions",
        summary=(
            f"Revoke {these(len(rows), 'session')}? "
            f"{'Its device is' if len(rows) == 1 else 'Their devices are'} signed out and open connections closed at once."
        ),
        items=(
            f"{r.user.display_name()}: {describe_device(r.user_agent)} ({r.ip or 'no IP'}), "
            f"session {r.id.hex[:12]}, created {r.created_at:%Y-%m-%d %H:%M} UTC"
            for r in rows
        ),
        perform=perform,
    )


def _revoke_all_for(modeladmin: Any, request: HttpRequest, users: list[User], reason: str) -> None:
    actor = _actor(request)
    total = 0
    for user in users:
        ended = session_revoke_all(user=user, reason=RevokeReason.ADMIN, actor=actor, note=reason)
        total += ended
        _log(modeladmin, request, user, f"Revoked all {count(ended, 'session')}: {reason}")
    security_log.event("admin.user_sessions_revoked", actor_id=actor.pk, user_ids=[u.pk for u in users], sessions=total)
    modeladmin.message_user(request, f"Revoked {count(total, 'session')} of {count(len(users), 'user')}.", messages.SUCCESS)


def _bump_for(modeladmin: Any, request: HttpRequest, users: list[User], reason: str) -> None:
    actor = _actor(request)
    for user in users:
        version = user_bump_token_version(user=user, actor=actor, note=reason)
        _log(modeladmin, request, user, f"Token version bumped to {version}: {reason}")
    security_log.event("admin.token_version_bumped", actor_id=actor.pk, user_ids=[u.pk for u in users])
    modeladmin.message_user(
        request, f"Bumped the token version of {count(len(users), 'user')}; all their tokens and sessions are void.",
        messages.SUCCESS,
    )


def _describe_users(users: list[User]) -> list[str]:
    return [
        f"{u.display_name()} ({u.username}, Discord id {u.discord_id or '-'}, token version {u.token_version})"
        for u in users
    ]


@admin.action(description="Revoke all sessions of the selected users…", permissions=["revoke"])
def revoke_all_of_users(modeladmin: Any, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
    users = list(queryset.order_by("username"))
    return _confirm(
        modeladmin, request, queryset, action="revoke_all_of_users", title="Revoke all sessions of users",
        summary=f"End every active session of {these(len(users), 'user')}, on every device?",
        items=_describe_users(users), perform=lambda reason: _revoke_all_for(modeladmin, request, users, reason),
    )


@admin.action(description="Revoke all sessions of the selected sessions' users…", permissions=["revoke"])
def revoke_all_of_session_users(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[AuthSession]
) -> TemplateResponse | None:
    users = list(User.objects.filter(pk__in=queryset.values("user_id")).order_by("username"))
    return _confirm(
        modeladmin, request, queryset, action="revoke_all_of_session_users", title="Revoke all sessions of users",
        summary=f"End every active session of the {count(len(users), 'user')} these sessions belong to?",
        items=_describe_users(users), perform=lambda reason: _revoke_all_for(modeladmin, request, users, reason),
    )


@admin.action(description="Bump token version of the selected users…", permissions=["revoke"])
def bump_token_version(modeladmin: Any, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
    users = list(queryset.order_by("username"))
    return _confirm(
        modeladmin, request, queryset, action="bump_token_version", title="Bump token version",
        summary=(
            f"Invalidate every token of {these(len(users), 'user')} at once (access tokens included) "
            "and end all their sessions?"
        ),
        items=_describe_users(users), perform=lambda reason: _bump_for(modeladmin, request, users, reason),
    )
