"""Timing hooks the core exposes, so that an operations app can observe them
without the core importing it.

``timed("validate")`` wraps a function; every observer added with
:func:`add_observer` for that name is called with ``(seconds, error)`` after
each call, ``error`` being the ``AuthError`` it raised, if any.
"""
from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sessions_core.errors import AuthError

F = TypeVar("F", bound=Callable[..., Any])
Observer = Callable[[float, "AuthError | None"], None]

_observers: dict[str, list[Observer]] = {}


def add_observer(name: str, fn: Observer) -> None:
    """Call ``fn(seconds, error)`` after each call of the functions timed as ``name`` (idempotent)."""
    fns = _observers.setdefault(name, [])
    if fn not in fns:
        fns.append(fn)


def _notify(name: str, start: float, error: AuthError | None) -> None:
    elapsed = time.perf_counter() - start
    for fn in _observers.get(name, ()):
        fn(elapsed, error)


def timed(name: str) -> Callable[[F], F]:
    """Decorate a sync or async function so the observers of ``name`` see each call."""

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                start, error = time.perf_counter(), None
                try:
                    return await fn(*args, **kwargs)
                except AuthError as e:
                    error = e
                    raise
                finally:
                    _notify(name, start, error)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start, error = time.perf_counter(), None
            try:
                return fn(*args, **kwargs)
            except AuthError as e:
                error = e
                raise
            finally:
                _notify(name, start, error)

        return wrapper  # type: ignore[return-value]

    return wrap
