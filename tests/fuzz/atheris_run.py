"""Coverage-guided fuzzing of the pure parsers with Atheris (libFuzzer), for ``make fuzz``.

``python -m tests.fuzz.atheris_run TARGET -runs=N [libFuzzer options]`` fuzzes one
target (libFuzzer owns the process and exits when done); ``scripts/fuzz.py``
runs every target and tallies the inputs. The properties are those of the
Hypothesis tests (``tests/fuzz/properties.py``): an uncaught exception or a
failed assertion is a crash, which libFuzzer reports and saves as an artifact.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsite.settings")

import atheris  # noqa: E402
import django  # noqa: E402

django.setup()

from realtime import protocol  # noqa: E402
from sessions_core.tokens import make_access_token, make_session_token  # noqa: E402
from tests.fuzz import properties  # noqa: E402  (imports every parser it exercises)

# Coverage feedback from the project's own code only (not the whole interpreter).
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "").split(".")[0] in {"sessions_core", "realtime", "signin", "tests"}:
        for value in list(vars(module).values()):
            if callable(value) and getattr(value, "__module__", None) == module.__name__ and hasattr(value, "__code__"):
                atheris.instrument_func(value)
            elif isinstance(value, type) and value.__module__ == module.__name__:
                for attr in vars(value).values():
                    if hasattr(attr, "__code__"):
                        atheris.instrument_func(attr)

RING = properties.memory_ring()
SID = "0123456789abcdef0123456789abcdef"
GOOD_SESSION = make_session_token(RING, sid=SID, uid=7, exp=int(time.time()) + 86400)
GOOD_ACCESS, GOOD_CLAIMS = make_access_token(RING, uid=7, sid=SID, tv=1, name="Alice", iat=int(time.time()))


def _text(fdp: Any, n: int = 400) -> str:
    return str(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, n)))


def _mutated(fdp: Any, token: str) -> str:
    """``token`` with a fuzzed slice spliced in (the way a tamperer edits one)."""
    at = fdp.ConsumeIntInRange(0, len(token))
    cut = fdp.ConsumeIntInRange(0, 8)
    return token[:at] + _text(fdp, 8) + token[at + cut:]


def session_token(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        properties.session_token_refused(RING, _mutated(fdp, GOOD_SESSION), original=GOOD_SESSION)
    else:
        properties.session_token_refused(RING, _text(fdp))


def access_token(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        properties.access_token_refused(RING, _mutated(fdp, GOOD_ACCESS), original=GOOD_CLAIMS)
    else:
        properties.access_token_refused(RING, _text(fdp, 600))


def refresh_token(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    properties.refresh_token_parses_or_refuses(_text(fdp, 300))


def next_param(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    properties.next_is_local_or_refused(_text(fdp, 200))


def frame_buffer(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    limit = fdp.ConsumeIntInRange(1, 300)
    cuts = [fdp.ConsumeIntInRange(0, 400) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    properties.frames_split_like_one_string(_text(fdp, 400).replace("~", protocol.RS), cuts, limit)


def hub_messages(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    handshake = fdp.ConsumeBool()
    if fdp.ConsumeIntInRange(0, 15) == 0:
        # Deep nesting: what the decoder's recursion limit would turn into a crash.
        record = "[" * fdp.ConsumeIntInRange(1, 40_000)
    else:
        record = _text(fdp, 600)
    properties.hub_message_reads_or_refuses(record, handshake)


def handshake_inputs(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    origin = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80)) if fdp.ConsumeBool() else None
    auth = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120)) if fdp.ConsumeBool() else None
    properties.handshake_inputs_read_or_refuse(origin, auth, fdp.ConsumeBytes(200))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "session_token": session_token,
    "access_token": access_token,
    "refresh_token": refresh_token,
    "next": next_param,
    "frame_buffer": frame_buffer,
    "hub_messages": hub_messages,
    "handshake_inputs": handshake_inputs,
}


def main() -> None:
    name = sys.argv[1]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
