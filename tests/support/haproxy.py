"""The shipped ``deploy/haproxy.cfg`` run on loopback in front of given worker ports.

Only the ``server-template`` line (Docker DNS) is replaced, by one ``server`` line
per worker; everything else is the file as deployed, with its environment
substitutions set for a private run. Used by the tests and the benchmark.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str:
    """Path of ``haproxy``; ``scripts/ensure_haproxy.sh`` installs it where missing."""
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.path.exists(p)), None)
    if found is None:
        raise RuntimeError("haproxy is not installed: run scripts/ensure_haproxy.sh")
    return found


def render(server_ports: list[int]) -> str:
    """The deployed config with loopback servers ``w1..wN`` in place of the DNS template."""
    lines = []
    for line in CONFIG.read_text().splitlines():
        if line.strip().startswith("server-template "):
            indent = line[: len(line) - len(line.lstrip())]
            lines += [f"{indent}server w{i} 127.0.0.1:{port}" for i, port in enumerate(server_ports, 1)]
        elif line.strip().startswith(("resolvers ", "nameserver ", "hold ")):
            continue  # (no Docker DNS on loopback)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


class HAProxy:
    """HAProxy on a free loopback port, in the foreground of a subprocess."""

    def __init__(self, server_ports: list[int], *, check_inter: str = "500ms") -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="authsite-haproxy-"))
        self.socket = self.dir / "admin.sock"
        self.config = self.dir / "haproxy.cfg"
        self.config.write_text(render(server_ports))
        self.log = self.dir / "haproxy.log"
        self.env = {
            **os.environ, "HAPROXY_BIND": f"127.0.0.1:{self.port}", "HAPROXY_SOCKET": str(self.socket),
            "HAPROXY_CHECK_INTER": check_inter, "HAPROXY_MAXCONN": "8000", "HAPROXY_CHECK_HOST": "localhost",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> "HAProxy":
        check = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(self.config)], env=self.env,
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejects the config:\n{check.stdout}{check.stderr}")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([haproxy_binary(), "-db", "-f", str(self.config)], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.02)
        return self

    def command(self, line: str) -> str:
        """One admin-socket command's answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """Server name -> ``UP`` / ``DOWN`` / ... as the health checks see it."""
        out: dict[str, str] = {}
        for row in self.command("show stat").splitlines():
            cols = row.split(",")
            if len(cols) > 17 and cols[0] == "authsite" and cols[1] not in {"BACKEND", "FRONTEND"}:
                out[cols[1]] = cols[17]
        return out

    def current_sessions(self) -> dict[str, int]:
        """Server name -> connections it holds now (``scur``)."""
        out: dict[str, int] = {}
        for row in self.command("show stat").splitlines():
            cols = row.split(",")
            if len(cols) > 4 and cols[0] == "authsite" and cols[1] not in {"BACKEND", "FRONTEND"}:
                out[cols[1]] = int(cols[4] or 0)
        return out

    def wait_state(self, server: str, state: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.states().get(server, "").split(" ")[0] != state:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{server} never became {state}: {self.states()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if not os.environ.get("AUTHSITE_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)
