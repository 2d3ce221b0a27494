"""A three-master Redis Cluster on free loopback ports, for scale-out tests.

Each node is ``redis-server --cluster-enabled yes`` with its own data directory
and an explicit cluster-bus port (``--cluster-port``, Redis 7+), so no fixed or
derived port is ever assumed free; ``redis-cli --cluster create`` assigns the
16384 slots across the three masters.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.redis_server import free_port, redis_binary


class RedisClusterServers:
    """Start with :meth:`start`, stop with :meth:`close`; ``url`` is a ``redis+cluster://`` URL."""

    def __init__(self, masters: int = 3) -> None:
        self.masters = masters
        self.ports: list[int] = []
        self.dir = Path(tempfile.mkdtemp(prefix="authsite-cluster-"))
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> "RedisClusterServers":
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is needed on PATH to create the test cluster")
        used: set[int] = set()
        for i in range(self.masters):
            port, bus = self._port(used), self._port(used)
            node_dir = self.dir / f"n{i}"
            node_dir.mkdir()
            self.procs.append(subprocess.Popen(
                [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-port", str(bus), "--cluster-config-file", str(node_dir / "nodes.conf"),
                 "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no", "--dir", str(node_dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            self.ports.append(port)
        for port in self.ports:
            self._wait(lambda c: bool(c.ping()), port)
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        for port in self.ports:
            self._wait(lambda c: c.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") >= 0, port)
        return self

    def node(self, i: int) -> redis.Redis:
        """A plain client of one master (for per-node assertions and flushes)."""
        return redis.Redis(port=self.ports[i])

    def flush_all(self) -> None:
        for i in range(len(self.ports)):
            self.node(i).flushall()

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _port(used: set[int]) -> int:
        while True:
            port = free_port()
            if port not in used:
                used.add(port)
                return port

    @staticmethod
    def _wait(ready: object, port: int, timeout: float = 20) -> None:
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready(client):  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster node on {port} not ready")
            time.sleep(0.05)  # polling a starting subprocess
