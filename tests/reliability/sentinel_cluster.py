"""A Redis master, a replica and three redis-sentinel processes on loopback, for failover tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from redis.sentinel import MasterNotFoundError, Sentinel

from tests.scratch_redis import free_port

MASTER_NAME = "drbmaster"


def _wait(predicate: Callable[[], object], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        except Exception as exc:  # redis errors while a process starts
            if "Connection" not in type(exc).__name__ and "Busy" not in type(exc).__name__:
                raise
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout}s")


class SentinelCluster:
    """`start()`: master + replica (AOF, fsync always) + 3 sentinels (quorum 2, a master
    silent for 1 s is down). `kill_master()` SIGKILLs the master; the sentinels promote
    the replica. `stop()` ends every process it started."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sentinel-cluster-"))
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    def env(self, db: int = 1) -> dict[str, str]:
        """What a process needs to reach the master through the sentinels."""
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            # Only the database number counts with sentinels; the address is a dead end on
            # purpose, so nothing can reach Redis except through them.
            "REDIS_URL": f"redis://127.0.0.1:9/{db}",
        }

    def master(self, db: int = 1) -> Redis:
        return Sentinel(self.sentinels, socket_timeout=2).master_for(
            MASTER_NAME, db=db, socket_timeout=5
        )

    def master_port_now(self) -> int | None:
        """The master's port as the sentinels see it; None while they know of none."""
        try:
            _host, port = Sentinel(self.sentinels, socket_timeout=2).discover_master(MASTER_NAME)
        except MasterNotFoundError:
            return None
        return int(port)

    def _redis(self, name: str, port: int, *extra: str) -> None:
        data = self.dir / name
        data.mkdir()
        self.processes[name] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(data),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _sentinel(self, index: int, port: int) -> None:
        conf = self.dir / f"sentinel-{index}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self.processes[f"sentinel-{index}"] = subprocess.Popen(
            [shutil.which("redis-sentinel") or "redis-sentinel", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> SentinelCluster:
        """Start every process and wait until the sentinels know the master, the replica and
        each other; on any failure, stop what was started (nothing is left running)."""
        if not shutil.which("redis-sentinel"):
            raise RuntimeError("redis-sentinel is missing: apt-get install -y redis-sentinel")
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> SentinelCluster:
        self._redis("master", self.master_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        replica = Redis(port=self.replica_port, socket_timeout=1)
        _wait(
            lambda: replica.info("replication").get("master_link_status") == "up",
            timeout=20,
            what="the replica did not sync",
        )
        for index, port in enumerate(self.sentinel_ports):
            self._sentinel(index, port)
        for port in self.sentinel_ports:
            sentinel = Redis(port=port, socket_timeout=1)
            _wait(
                lambda s=sentinel: (
                    len(s.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)) == 2
                    and s.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                ),
                timeout=30,
                what="the sentinels did not find each other and the replica",
            )
        return self

    def kill_master(self) -> None:
        process = self.processes["master"]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
