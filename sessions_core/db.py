"""Sync SQL work from async code, with Django's connection hygiene around it.

The hub consumer does not close old connections on every message (Channels'
default, a thread hop each) and the HTTP hot path does not touch SQL at all;
the rare paths that do (a Redis miss, an activity flush) go through here.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")


async def db_call(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run ``fn(**kwargs)`` on asgiref's thread, closing stale connections before and after."""

    def call() -> T:
        close_old_connections()
        try:
            return fn(**kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call)()
