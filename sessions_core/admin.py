"""Django admin for users and sessions (revocations go through the service layer)."""
from django.contrib import admin

from .models import AuthSession, SessionEvent, User

admin.site.register(User)
admin.site.register(AuthSession)
admin.site.register(SessionEvent)
