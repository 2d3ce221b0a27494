"""Signals the session core sends; the realtime app listens to close sockets."""
from django.dispatch import Signal

# Sent after a session is revoked (any reason), once the store reflects it.
# kwargs: uid (int), sid (str, hex), reason (str).
session_revoked = Signal()

# Sent for every security-log event after it is logged (metrics count these).
# kwargs: name (str), fields (dict of ids and reasons; never a secret).
security_event = Signal()
