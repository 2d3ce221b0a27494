"""Counted nouns for admin and CLI messages ("1 session", "these 3 users")."""
from __future__ import annotations


def count(n: int, noun: str) -> str:
    """``1 session``, ``2 sessions`` (regular plurals only: every noun used here is)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def these(n: int, noun: str) -> str:
    """``this session`` or ``these 2 sessions``."""
    return f"this {noun}" if n == 1 else f"these {count(n, noun)}"
