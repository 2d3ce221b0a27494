"""One trivial JSON view; what authenticates the request depends on the variant."""
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path


async def who(request: HttpRequest) -> JsonResponse:
    variant = settings.VARIANT  # type: ignore[misc]
    if variant == "authsite":
        ctx = request.auth  # type: ignore[attr-defined]
        if not ctx.authenticated:
            return JsonResponse({"error": "not_authenticated"}, status=401)
        return JsonResponse({"ok": True, "user": ctx.session.uid})
    if variant == "django":
        user = await request.auser()
        if not user.is_authenticated:
            return JsonResponse({"error": "not_authenticated"}, status=401)
        return JsonResponse({"ok": True, "user": user.pk})
    return JsonResponse({"ok": True, "user": None})


urlpatterns = [path("who", who)]
