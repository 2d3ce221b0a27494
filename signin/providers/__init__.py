"""Identity providers: Discord OAuth2 (authorization code + PKCE) and PlayFab server login.

- ``config``: where each provider lives (real, or the built-in fakes under ``/_dev/``).
- ``http``: the one retrying ``requests`` client (timeouts, bounded retries, ``Retry-After``).
- ``discord`` / ``playfab``: the two clients; every failure is a ``ProviderError`` with a stable code.
- ``oauth_state``: pending sign-ins (state, PKCE verifier, ``next``) in Redis, used once.
- ``fakes_*``: the built-in fake Discord and PlayFab, mounted only with ``DEBUG`` on.
"""
