"""Redis flushed, restarted or down: nobody is logged out, nothing is lost, errors are clear."""
from __future__ import annotations

import pytest
from .helpers import post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_redis_flushed_mid_session_logs_nobody_out(user, private_redis):
    client, issued = sign_in(user)
    assert post(client, "/auth/validate").status_code == 200
    private_redis.client().flushall()
    resp = post(client, "/auth/validate")
    assert resp.status_code == 200 and resp.json()["session"]["id"] == issued.session_id
    # The refresh family survives too.
    assert post(client, "/auth/refresh").status_code == 200
    assert post(client, "/auth/validate").status_code == 200


def test_redis_restarted_mid_session_logs_nobody_out(user, private_redis):
    client, _ = sign_in(user)
    private_redis.restart()  # no persistence: the restarted server is empty
    assert private_redis.client().dbsize() == 0
    assert post(client, "/auth/validate").status_code == 200
    assert post(client, "/auth/refresh").status_code == 200


def test_revocation_survives_a_redis_flush(user, private_redis):
    client, issued = sign_in(user)
    other, _ = sign_in(user)
    assert post(other, "/auth/logout-all").status_code == 200
    private_redis.client().flushall()
    assert post(client, "/auth/validate").json()["error"] == "session_revoked"
