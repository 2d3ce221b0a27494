"""A Redis primary, a replica and three Sentinels on loopback free ports (for failover tests)."""
from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer, free_port, redis_binary

SERVICE = "authsite"


class SentinelGroup:
    """``start()`` brings up primary, replica and sentinels; ``kill_primary()`` SIGKILLs the primary."""

    def __init__(self, *, down_after_ms: int = 1000, failover_timeout_ms: int = 5000) -> None:
        self.primary = RedisServer()
        self.replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.dir = Path(tempfile.mkdtemp(prefix="authsite-sentinel-"))
        self.ports = [free_port() for _ in range(3)]
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> "SentinelGroup":
        self.primary.start()
        self.replica.start()
        self._wait(lambda: self.replica.client().info("replication").get("master_link_status") == "up", "replica sync")
        for port in self.ports:
            conf = self.dir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.procs.append(subprocess.Popen(
                [redis_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        for port in self.ports:
            self._wait(lambda port=port: self._sentinel_sees_all(port), f"sentinel {port}")
        return self

    def _sentinel_sees_all(self, port: int) -> bool:
        try:
            s = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)
            master = s.sentinel_master(SERVICE)
            return bool(master) and int(master.get("num-other-sentinels", 0)) >= 2 and int(master.get("num-slaves", 0)) >= 1
        except redis.RedisError:
            return False

    @staticmethod
    def _wait(ok: object, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ok():  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not come up")

    def kill_primary(self) -> None:
        proc = self.primary.proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.primary.proc = None

    def master_port(self) -> int:
        s = redis.Redis(port=self.ports[0], socket_timeout=0.5)
        return int(s.sentinel_get_master_addr_by_name(SERVICE)[1])

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.primary.close()
        self.replica.close()
        shutil.rmtree(self.dir, ignore_errors=True)
