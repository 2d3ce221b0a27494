"""The SignalR side: frame buffer, JSON hub messages, the handshake's token and Origin.

Properties: the frame buffer splits on 0x1E exactly as one string would, however
the text arrives in frames, and refuses an over-long message with ``ValueError``
only; a record parses to a JSON object or raises ``ValueError`` (deeply nested
input included); an invocation reads or raises ``ValueError``; the handshake
check answers instead of raising; ``Origin`` is accepted or ``OriginRefused``.
"""
from __future__ import annotations

from typing import Any

from hypothesis import given, strategies as st

from realtime import protocol
from tests.fuzz import properties
from tests.fuzz.budget import fuzz_target
from tests.fuzz.strategies import JSON_VALUES, TEXT, json_text

RS = protocol.RS
FRAME_TEXT = st.lists(st.one_of(TEXT, st.just(RS), st.just('{"type":6}'), st.just('{"protocol":"json","version":1}')), max_size=12).map("".join)


@given(data=st.data(), limit=st.integers(min_value=1, max_value=400))
@fuzz_target("hub.frame_buffer")
def test_frame_buffer(data: Any, limit: int) -> None:
    text = data.draw(FRAME_TEXT)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=6))
    properties.frames_split_like_one_string(text, cuts, limit)


NESTED = st.integers(min_value=1, max_value=40_000).map(lambda n: "[" * n + "]" * (n % 3))
RECORDS = st.one_of(
    TEXT, NESTED,
    JSON_VALUES.map(json_text),
    st.fixed_dictionaries(
        {"type": st.one_of(st.integers(), st.booleans(), st.text(max_size=3), st.none())},
        optional={"target": JSON_VALUES, "invocationId": JSON_VALUES, "arguments": JSON_VALUES, "error": JSON_VALUES},
    ).map(json_text),
)


@given(record=RECORDS, handshake=st.booleans())
@fuzz_target("hub.json_messages")
def test_hub_messages(record: str, handshake: bool) -> None:
    properties.hub_message_reads_or_refuses(record, handshake)


HEADER_BYTES = st.one_of(st.binary(max_size=120), TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")))


@given(
    origin=st.one_of(st.none(), HEADER_BYTES, st.sampled_from([b"http://localhost", b"https://evil.example", b"null", b"http://[::1]:80", b"http://127.0.0.1.evil"])),
    auth=st.one_of(st.none(), HEADER_BYTES, TEXT.map(lambda s: ("Bearer " + s).encode("utf-8", "surrogatepass"))),
    query=HEADER_BYTES,
)
@fuzz_target("hub.handshake_inputs")
def test_handshake_inputs(origin: bytes | None, auth: bytes | None, query: bytes) -> None:
    properties.handshake_inputs_read_or_refuse(origin, auth, query)
