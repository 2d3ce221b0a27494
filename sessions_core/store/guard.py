"""What every Redis call of the store shares: the breaker check and the error mapping."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sessions_core.errors import StoreUnavailable
from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS

T = TypeVar("T")


@contextmanager
def redis_guard() -> Iterator[None]:
    """Turn a Redis connection failure into ``StoreUnavailable`` (the clear 503) and trip the breaker.

    While the breaker is open, raises ``StoreUnavailable`` at once without trying Redis.
    """
    if not breaker.available():
        raise StoreUnavailable()
    try:
        yield
    except REDIS_ERRORS as e:
        breaker.trip()
        raise StoreUnavailable() from e


def redis_down(e: BaseException) -> StoreUnavailable:
    """Trip the breaker for Redis error ``e``; the ``StoreUnavailable`` to raise (caused by ``e``)."""
    breaker.trip()
    err = StoreUnavailable()
    err.__cause__ = e
    return err


def is_degraded() -> bool:
    """True while the breaker is open (answer from SQL, leave mirror writes to the recovery)."""
    return not breaker.available()


def s(v: Any) -> str:
    """A Redis reply value as text (``""`` for nil)."""
    return v.decode() if isinstance(v, bytes) else ("" if v is None else str(v))


def mirror(write: Callable[[], T], default: T) -> T:
    """A Redis write that only mirrors what SQL already decided.

    Skipped while degraded, and a Redis failure trips the breaker instead of
    failing the caller's transaction: the recovery writes the change from SQL
    (:mod:`.recovery`) before this worker reads Redis again.
    """
    if is_degraded():
        return default
    try:
        return write()
    except REDIS_ERRORS:
        breaker.trip()
        return default
