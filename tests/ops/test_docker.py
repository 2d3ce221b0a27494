"""Dockerfile and compose.yaml, checked without a Docker engine: syntax, the rules, and the healthcheck for real."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
    "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, args = line.partition(" ")
        out.append((word, args.strip()))
    assert not pending, "the Dockerfile ends inside a continuation"
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_cmd() -> list[str]:
    args = dict(dockerfile())["HEALTHCHECK"]
    options, _, cmd = args.partition("CMD ")
    for opt in options.split():
        assert re.fullmatch(r"--(interval|timeout|start-period|start-interval|retries)=\w+", opt), opt
    return exec_form(cmd)


def dockerignore() -> list[str]:
    return [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_dockerfile_syntax_and_rules():
    steps = dockerfile()
    names = [name for name, _ in steps]
    assert set(names) <= INSTRUCTIONS, set(names) - INSTRUCTIONS
    assert all(name.isupper() for name in names)
    assert steps[0] == ("FROM", "python:3.11-slim")
    # Non-root: one USER, after every RUN, naming neither root nor uid 0.
    users = [args for name, args in steps if name == "USER"]
    assert len(users) == 1 and users[0].split(":")[0] not in {"root", "0"}
    assert names.index("USER") > max(i for i, n in enumerate(names) if n == "RUN")
    runs = " && ".join(args for name, args in steps if name == "RUN")
    assert "pip install ." in runs and "collectstatic --noinput" in runs and "useradd" in runs
    assert exec_form(dict(steps)["CMD"]) == [
        "python", "-m", "ops.serve", "-b", "0.0.0.0", "-p", "8000", "authsite.asgi:application"
    ]
    # Every package pyproject installs is copied in before `pip install .`.
    copied = {shlex.split(args)[0].rstrip("/") for name, args in steps if name == "COPY"}
    assert {"authsite", "sessions_core", "signin", "ops", "realtime"} <= copied
    assert dict(steps)["EXPOSE"] == "8000"
    check = healthcheck_cmd()
    assert check[:2] == ["python", "-c"] and "urllib" in check[2] and "/healthz" in check[2]
    compile(check[2], "HEALTHCHECK", "exec")


def test_copied_paths_exist_and_are_not_dockerignored():
    ignored = dockerignore()
    for name, args in dockerfile():
        if name != "COPY":
            continue
        *sources, _dest = shlex.split(args)
        for src in sources:
            path = src.rstrip("/")
            assert (ROOT / path).exists(), src
            assert not any(fnmatch.fnmatch(path, pat.rstrip("/")) for pat in ignored), f"{src} is in .dockerignore"
    for pattern in (".git", ".venv", "db.sqlite3*", "node_modules"):
        assert pattern in ignored


def substitute(value: str) -> str:
    """Compose interpolation with defaults (``${X:-d}`` -> d, ``${X:?msg}`` -> X)."""
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}", lambda m: m.group(3) if m.group(2) == "-" else m.group(1), value)


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_is_valid_and_production_like():
    text = (ROOT / "compose.yaml").read_text()
    for ref in re.findall(r"\$\{[^}]*\}", text):
        assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}", ref), ref
    data = compose()
    services = data["services"]
    assert {"postgres", "redis", "app"} <= set(services)
    for name in ("postgres", "redis", "app"):
        test = services[name]["healthcheck"]["test"]
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, name
    assert services["app"]["healthcheck"]["test"] == ["CMD", *healthcheck_cmd()]
    env = {k: substitute(str(v)) for k, v in services["app"]["environment"].items()}
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
        assert env.get(key) is not None, key
    assert env["DEBUG"] == "0"
    assert urlsplit(env["DATABASE_URL"]).scheme == "postgres" and urlsplit(env["DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert "${SECRET_KEY:?" in text, "SECRET_KEY must be required, never defaulted"
    # Every variable handed to the app is one the settings read.
    settings_src = (ROOT / "authsite" / "settings.py").read_text()
    for key in env:
        assert f'"{key}"' in settings_src, f"{key} is not read by authsite/settings.py"
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            assert cond["condition"] in {"service_started", "service_healthy", "service_completed_successfully"}
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith("./"):  # a bind mount of a file shipped in the repository
                assert (ROOT / source).is_file(), vol
            else:
                assert source in (data.get("volumes") or {}), vol
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").is_file()
    assert services["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


@pytest.fixture
def daphne_behind_allowed_hosts(tmp_path, settings):
    """The app as the image runs it: DEBUG off, a foreign ALLOWED_HOSTS, HTTPS redirect on."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_NAME", "DEBUG"}},
        "DEBUG": "0", "ALLOWED_HOSTS": ".example.com,auth.example.org", "SECURE_SSL_REDIRECT": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}", "REDIS_URL": settings.REDIS_URL,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "authsite.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield port, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_healthcheck(port: int, env: dict[str, str]) -> int:
    cmd = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in healthcheck_cmd()]
    cmd[0] = sys.executable
    return subprocess.run(cmd, env=env, capture_output=True, timeout=30).returncode


def test_the_healthcheck_command_passes_against_the_running_app_and_fails_without_it(daphne_behind_allowed_hosts):
    port, env = daphne_behind_allowed_hosts
    deadline = time.monotonic() + 30
    while run_healthcheck(port, env) != 0:
        assert time.monotonic() < deadline, "the HEALTHCHECK command never passed"
        time.sleep(0.2)  # waiting for the daphne subprocess to bind, not for a clock
    assert run_healthcheck(free_port(), env) != 0


def test_compose_runs_replicas_behind_the_tested_haproxy_config(tmp_path):
    """The compose shape is the tested one: N app replicas, HAProxy with deploy/haproxy.cfg."""
    from sessions_core.conf import DEFAULTS
    from tests.support.haproxy import haproxy_binary

    services = compose()["services"]
    app, lb = services["app"], services["haproxy"]
    assert int(substitute(str(app["deploy"]["replicas"]))) >= 2
    assert "ports" not in app, "workers are reached through haproxy only"
    assert app.get("stop_signal", "SIGTERM") == "SIGTERM"
    grace = re.fullmatch(r"(\d+)s", app["stop_grace_period"])
    assert grace and int(grace.group(1)) > DEFAULTS["HUB_DRAIN_TIMEOUT"].total_seconds(), "the drain must finish before SIGKILL"
    assert lb["image"].startswith("haproxy:2.")
    mounts = {v.split(":")[0]: v.split(":")[1] for v in lb["volumes"]}
    assert mounts["./deploy/haproxy.cfg"] == "/usr/local/etc/haproxy/haproxy.cfg"
    env = {k: substitute(str(v)) for k, v in lb["environment"].items()}
    published = [substitute(str(p)).split(":") for p in lb["ports"]]
    assert [p[-1] for p in published] == [env["HAPROXY_BIND"].rsplit(":", 1)[1]]
    assert lb["depends_on"]["app"]["condition"] in {"service_started", "service_healthy"}
    cfg = (ROOT / "deploy" / "haproxy.cfg").read_text()
    # Every worker the template names listens where the image's CMD binds.
    template = re.search(r"^\s*server-template \S+ (\d+) (\S+):(\d+) .*resolvers docker", cfg, re.M)
    assert template and template.group(2) == "app" and int(template.group(1)) >= int(substitute(str(app["deploy"]["replicas"])))
    assert exec_form(dict(dockerfile())["CMD"])[-2] == template.group(3)
    assert "uri /readyz" in cfg and "balance leastconn" in cfg and "option redispatch" in cfg
    # Every ${VAR} of the config is set by compose or has a default, and HAProxy accepts the result.
    for name, default in re.findall(r"\$\{([A-Z_]+)(-[^}]*)?\}", cfg):
        assert name in env or default, name
    env["HAPROXY_SOCKET"] = str(tmp_path / "admin.sock")
    env["HAPROXY_MAXCONN"] = "1000"  # (this machine's file limit, not the container's)
    checked = subprocess.run([haproxy_binary(), "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_readme_shows_the_haproxy_config_the_tests_run():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running many workers", 1)[1]
    block = re.search(r"```haproxy\n(.*?)```", section, re.S)
    assert block and block.group(1) == (ROOT / "deploy" / "haproxy.cfg").read_text()
