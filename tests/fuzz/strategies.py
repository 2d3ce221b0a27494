"""Input generators shared by the fuzz properties: raw text, and near-valid shapes
that reach deeper into each parser than random text would."""
from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

# Characters parsers split on or trip over, mixed into otherwise random text.
SPECIAL = st.sampled_from(list(".:-_=+/\\%?#&\x00\x1e\t\n \u00a0\u2028\ufeff١٢３") + ["..", "::", "%2e", "r1", "{}", "[]"])
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(SPECIAL, st.text(max_size=8)), max_size=40).map("".join),
    st.binary(max_size=200).map(lambda b: b.decode("latin1")),
)
NUMBERISH = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-0", "+1", "1_0", "0x10", "１２", "1e3", " 7", "7 ", "NaN", "00001"]),
)
HEXISH = st.one_of(
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(str),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.uuids().map(lambda u: "urn:uuid:" + str(u)),
    st.text(alphabet="0123456789abcdefABCDEF-", max_size=40),
    TEXT,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def mutate(data: Any, token: str) -> str:
    """A random edit of ``token``: replace, insert, delete, truncate or swap segments."""
    kind = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "append", "segments"]))
    if not token:
        return data.draw(TEXT)
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = data.draw(st.characters(codec="utf-8"))
    if kind == "replace":
        return token[:i] + char + token[i + 1:]
    if kind == "insert":
        return token[:i] + char + token[i:]
    if kind == "delete":
        return token[:i] + token[i + 1:]
    if kind == "truncate":
        return token[:i]
    if kind == "append":
        return token + data.draw(st.text(max_size=5))
    parts = token.split(".")
    data.draw(st.randoms()).shuffle(parts)
    return ".".join(parts)


def json_text(value: Any) -> str:
    return json.dumps(value, default=str)
