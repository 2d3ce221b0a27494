"""How many inputs each fuzz target gets, and the count of those it ran.

``make test`` runs every property with a short budget; ``make fuzz`` sets
``FUZZ_EXAMPLES`` (inputs for a weight-1 target) large. Targets that go through
the database and Redis carry a lower weight: they cost milliseconds an input.
"""
from __future__ import annotations

import functools
import os
from collections import Counter
from typing import Any, Callable

from hypothesis import HealthCheck, settings

# Inputs actually run, per target (printed at the end of the session).
COUNTS: Counter[str] = Counter()
DEFAULT_EXAMPLES = 60


def examples(weight: float) -> int:
    base = int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
    return max(10, int(base * weight))


def fuzz_target(name: str, *, weight: float = 1.0) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a property its budget (``weight`` x the base) and count the inputs it runs."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def counted(*args: Any, **kwargs: Any) -> Any:
            COUNTS[name] += 1
            return fn(*args, **kwargs)

        return settings(
            max_examples=examples(weight),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        )(counted)

    return decorate
