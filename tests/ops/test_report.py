"""`manage.py auth_report`: every point of both source documents, statuses from the live configuration."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from sessions_core.store.client import reset_clients
from ops.report import Probe

pytestmark = pytest.mark.django_db(transaction=True)


def report() -> dict[str, dict]:
    out = StringIO()
    call_command("auth_report", "--json", stdout=out)
    data = json.loads(out.getvalue())
    return {p["ref"]: p for p in data["points"]}


def test_every_section_layer_scenario_and_parameter_has_a_row():
    points = report()
    for section in range(1, 11):
        rows = [p for r, p in points.items() if r.split(".")[0] == str(section)]
        assert rows, f"section {section} has no row"
        assert all(p["section"].startswith(f"{section} ") for p in rows)
    for prefix, n in (("L", 6), ("S", 6), ("P", 8)):
        assert {f"{prefix}{i}" for i in range(1, n + 1)} <= set(points)
    assert {"R5", "R6"} <= set(points)
    assert all(p["status"] and p["now"] for p in points.values())


def test_rows_carry_the_ten_section_titles_of_the_target_document():
    titles = [
        "Initial Authentication Flow", "Session Storage (Client-side)", "Session Storage (Server-side)",
        "Session Refresh Logic", "Activity Tracking", "SignalR Authentication", "Multi-tab Handling",
        "Token Refresh Flow", "Security Considerations", "Implementation Notes",
    ]
    sections = {p["section"] for p in report().values()}
    assert {f"{i} {t}" for i, t in enumerate(titles, 1)} <= sections


def test_statuses_follow_the_configuration(settings):
    probe = Probe()
    signin_routes = probe.url("/auth/discord/login")
    base = report()
    assert base["8.4"]["status"] == "configured" and base["8.4"]["settings"]["REFRESH_GRACE"] == "10 s"
    assert base["P8"]["status"] == "configured"
    assert base["9.6"]["status"] == "configured"
    assert base["3.1"]["status"] == "implemented"
    assert base["1.1"]["status"] == ("not configured" if signin_routes else "missing")

    settings.AUTHSITE = {
        **settings.AUTHSITE, "REFRESH_GRACE": timedelta(0), "MAX_SESSIONS_PER_USER": 7,
        "DISCORD_CLIENT_ID": "42", "DISCORD_CLIENT_SECRET": "discord-secret-value-xyz",
        "ACCESS_TOKEN_TTL": timedelta(minutes=15),
    }
    settings.RATELIMIT_ENABLE = False
    changed = report()
    assert changed["8.4"]["status"] == "not configured" and changed["L5"]["status"] == "not configured"
    assert changed["P8"]["status"] == "differs" and "7" in changed["P8"]["now"]
    assert changed["P1"]["status"] == "differs" and "15 min" in changed["P1"]["now"]
    assert changed["9.6"]["status"] == "not configured"
    assert changed["1.1"]["status"] == ("configured" if signin_routes else "missing")
    assert changed["1.1"]["settings"]["DISCORD_CLIENT_SECRET"] == "set"


def test_redis_down_is_reported_unavailable(private_redis):
    private_redis.stop()
    reset_clients()
    points = report()
    assert points["3.1"]["status"] == "unavailable" and points["3.1"]["settings"]["answers"] == "off"
    assert points["9.5"]["status"] == "unavailable"


def test_text_table_and_no_secret_values(settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "DISCORD_CLIENT_SECRET": "discord-secret-value-xyz",
                         "PLAYFAB_SECRET_KEY": "playfab-secret-value-xyz", "METRICS_TOKEN": "metrics-token-xyz"}
    out = StringIO()
    call_command("auth_report", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0].split()[:2] == ["REF", "STATUS"]
    assert "== Target architecture: 1 Initial Authentication Flow ==" in text
    assert "== Resilience notes: Layers ==" in text
    assert re.search(r"^Summary: \d+ implemented", text, re.M)
    for secret in ("discord-secret-value-xyz", "playfab-secret-value-xyz", "metrics-token-xyz", settings.SECRET_KEY):
        assert secret not in text
    only = StringIO()
    call_command("auth_report", "--json", "--status", "differs", stdout=only)
    assert {p["status"] for p in json.loads(only.getvalue())["points"]} == {"differs"}


def test_verification_rows_count_what_happened_today(user):
    from django.test import Client

    from sessions_core.conf import REFRESH_COOKIE
    from sessions_core.models import AuthSession, RevokeReason
    from sessions_core.services import session_revoke

    from .helpers import signed_in

    before = report()
    client, issued = signed_in(user)
    assert client.post("/auth/refresh").status_code == 200
    sibling = Client()
    sibling.cookies[REFRESH_COOKIE] = issued.refresh_token
    assert sibling.post("/auth/refresh").status_code == 200
    session_revoke(session=AuthSession.objects.get(pk=issued.session_id), reason=RevokeReason.ADMIN, cause="admin")
    after = report()
    assert "0 session(s) ended" in before["V2"]["now"]
    assert "1 session(s) ended in the last 24 h, by cause: admin 1" in after["V2"]["now"]
    assert after["V3"]["now"].startswith("1 grace-window replay(s)")
    assert after["V1"]["status"] == "implemented" and after["V1"]["now"].startswith("0 live session(s)")


def test_browser_rows_name_their_module_and_test_instead_of_guessing_from_source_text():
    root = Path(__file__).resolve().parents[2]
    points = report()
    browser = {r: p for r, p in points.items() if p["status"] == "in the browser"}
    assert {"7.1", "7.2", "7.3", "7.4", "L1", "L4", "L6", "P3", "P7"} <= set(browser)
    for p in browser.values():
        module = re.search(r"static/js/([\w.-]+\.js)", p["now"]).group(1)
        test = re.search(r"tests/browser/(test_\w+\.py)", p["now"]).group(1)
        assert (root / "static/js" / module).exists() and (root / "tests/browser" / test).exists()
    assert not [name for name in dir(Probe) if name.startswith("js")]
