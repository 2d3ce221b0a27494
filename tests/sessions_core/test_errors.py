"""The one closed list of error codes: the classes own it, the README and the
browser's errors.js are held to it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessions_core.errors import AuthError, all_error_codes

ROOT = Path(__file__).resolve().parents[2]


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_error_class_owns_a_registered_code_and_status():
    codes = all_error_codes()
    for cls in [AuthError, *_subclasses(AuthError)]:
        owner = codes[cls.code]
        assert issubclass(cls, owner), f"{cls.__qualname__} uses {owner.__qualname__}'s code {cls.code!r}"
        assert 400 <= cls.status <= 599


def test_an_instance_cannot_change_its_code():
    from sessions_core.errors import TokenInvalid

    with pytest.raises(TypeError):
        TokenInvalid("x", code="something_else")  # type: ignore[call-arg]


def test_a_second_class_cannot_claim_a_taken_code():
    with pytest.raises(TypeError):
        type("Impostor", (AuthError,), {"code": "session_revoked"})


def test_the_readme_table_lists_exactly_the_codes_with_their_status():
    text = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", text, flags=re.M))
    expected = {code: str(cls.status) for code, cls in all_error_codes().items()}
    assert rows == expected


def test_errors_js_knows_every_server_code_and_which_are_definitive():
    text = (ROOT / "static/js/errors.js").read_text()
    body = text[text.index("export const ERROR_KINDS"):]
    body = body[: body.index("});")]
    client = dict(re.findall(r"^\s+(\w+): \"([a-z_]+)\",", text[: text.index("export const ERROR_KINDS")], flags=re.M))
    kinds = dict(re.findall(r"^\s+([a-z_]+): \"(definitive|recheck|retry)\"", body, flags=re.M))
    for name, kind in re.findall(r"^\s+\[CLIENT_CODES\.(\w+)\]: \"(definitive|recheck|retry)\"", body, flags=re.M):
        kinds[client[name]] = kind
    codes = all_error_codes()
    assert set(codes) <= set(kinds), f"errors.js lacks {sorted(set(codes) - set(kinds))}"
    definitive = {c for c, cls in codes.items() if cls.definitive}
    assert {c for c in codes if kinds[c] == "definitive"} == definitive
