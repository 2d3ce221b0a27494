"""Loaded first (``-p tests.environment``), before Django reads its settings.

The suite runs with DEBUG off, where the settings refuse to load without a
strong ``SECRET_KEY``: give this run a random one (unless the caller set one).
Subprocess servers inherit it, so they verify what the test process signs.
"""
from __future__ import annotations

import os
import secrets

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = "test-" + secrets.token_urlsafe(48)
