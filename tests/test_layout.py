"""The layout's rules, checked on the source: arrows point down, and no cycles.

- nothing in ``sessions_core`` imports ``signin``, ``ops`` or ``realtime``;
- ``realtime`` takes from ``sessions_core`` only its services, the store facade and
  the foundations (conf, errors, reasons, signals, security_log, db, tokens' types);
- only ``sessions_core/store`` (and the hub's presence, which keeps its own Redis
  state) uses Redis key names and scripts;
- no import cycles between modules (imports inside functions included).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("sessions_core", "signin", "ops", "realtime", "authsite")
REALTIME_MAY_USE = (
    "sessions_core.services", "sessions_core.store", "sessions_core.conf", "sessions_core.errors",
    "sessions_core.reasons", "sessions_core.signals", "sessions_core.security_log", "sessions_core.db",
    "sessions_core.tokens",
    # The HTTP edge's wire helpers (JSON errors, client IP) and rate limits, for the
    # negotiate view (an HTTP edge like the API's, limited the same way).
    "sessions_core.views.http", "sessions_core.ratelimits",
)


def _modules() -> dict[str, Path]:
    out = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text())
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: {m for m in _imports(path, name) if m in mods and m != name} for name, path in mods.items()}


def test_the_core_imports_no_app_above_it():
    bad = {
        (mod, dep) for mod, deps in _graph().items() if mod.startswith("sessions_core")
        for dep in deps if dep.split(".")[0] in ("signin", "ops", "realtime")
    }
    assert not bad


def test_realtime_uses_only_the_services_the_store_and_the_foundations():
    bad = {
        (mod, dep) for mod, deps in _graph().items() if mod.startswith("realtime")
        for dep in deps if dep.startswith("sessions_core") and dep != "sessions_core"
        and not dep.startswith(REALTIME_MAY_USE)
    }
    assert not bad
    assert not {(m, d) for m, deps in _graph().items() if m.startswith("realtime") for d in deps if d.startswith(("ops", "signin"))}


def test_only_the_store_builds_session_redis_keys_and_runs_session_scripts():
    users = {
        mod for mod, deps in _graph().items()
        if {"sessions_core.store.lua", "sessions_core.store.keys"} & deps and not mod.startswith("sessions_core.store")
    }
    # The hub's presence keeps its own Redis state (connections, groups), its fan-out
    # the revocation stream, the sign-in app its one-time OAuth state and the dev fakes' codes.
    assert users <= {
        "realtime.presence", "realtime.negotiation", "realtime.fanout", "signin.oauth_state",
        "signin.fakes.common", "signin.fakes.discord", "signin.fakes.playfab",
    }


def test_no_import_cycles():
    graph = _graph()
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            # A package's __init__ importing its own submodules is not a cycle of rooms.
            if node == dep.rpartition(".")[0]:
                continue
            if seen.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in seen:
                visit(dep)
        stack.pop()
        seen[node] = 2

    for node in graph:
        if node not in seen:
            visit(node)
