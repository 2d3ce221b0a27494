"""Signals the session core sends, so that apps above it act without the core importing them:
the hub closes sockets, the sign-in app renews PlayFab tickets, metrics count."""
from django.dispatch import Signal

# Sent after a session is revoked (any reason), once the store reflects it.
# kwargs: uid (int), sid (str, hex), reason (str); replayed (bool, optional): True when
# the store's recovery re-sends it for a session revoked while Redis was away.
session_revoked = Signal()

# Sent for every security-log event after it is logged (metrics count these).
# kwargs: name (str), fields (dict of ids and reasons; never a secret).
security_event = Signal()

# Sent after a refresh rotated a session's chain (the winner only), once SQL and
# Redis reflect it. kwargs: session (AuthSession, with its user loaded).
# Receivers must not raise: a refresh never fails for a listener's trouble.
session_rotated = Signal()

# Sent when the session store's circuit breaker opens (Redis unreachable: sessions
# are served from SQL) or closes again. kwargs: degraded (bool).
store_degraded = Signal()
