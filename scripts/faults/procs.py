"""Process controls for fault injection: signal or restart a service of a ``Stack``, the
Kafka broker and redis-server (through ``scripts/infra`` with their own ports), and drive
the fault proxy (``faults.proxy``) over its control API.

Every action is counted in ``Controls.counters``, so a test can prove its injector fired.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "scripts" / "infra"


@dataclass
class Infra:
    """One Kafka broker and one redis-server of our own (never another run's ports)."""

    kafka_port: int
    controller_port: int
    redis_port: int
    state_dir: Path
    kafka_advertised_port: int | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_PORT": str(self.kafka_port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                "KAFKA_ADVERTISED_PORT": str(self.kafka_advertised_port or self.kafka_port),
                "REDIS_PORT": str(self.redis_port),
                "STOCKSYNC_STATE_DIR": str(self.state_dir),
                # A restart on a loaded machine can take minutes; failing it breaks the run.
                "KAFKA_START_TIMEOUT": os.environ.get("KAFKA_START_TIMEOUT", "300"),
            }
        )
        return env

    def run(self, what: str, action: str) -> None:
        subprocess.run(  # noqa: S603 - our own infra scripts, fixed argv
            [str(INFRA / f"{what}.sh"), action], env=self.env(), check=True, timeout=420
        )

    def pid(self, what: str) -> int | None:
        name = "kafka/kafka.pid" if what == "kafka" else "redis/redis.pid"
        path = self.state_dir / name
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self, what: str, sig: int = signal.SIGKILL, timeout_s: float = 30.0) -> int:
        """Signal the broker or redis-server; for SIGKILL, wait until the pid is gone."""
        pid = self.pid(what)
        if pid is None:
            raise RuntimeError(f"{what} is not running (no pid file)")
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            deadline = time.monotonic() + timeout_s
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        return pid


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class ProxyClient:
    control_url: str

    def set(self, route: str, mode: str, latency_ms: float = 0.0) -> dict[str, Any]:
        r = httpx.post(
            f"{self.control_url}/routes/{route}",
            json={"mode": mode, "latency_ms": latency_ms},
            timeout=5,
        )
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc

    def heal(self) -> None:
        httpx.post(f"{self.control_url}/heal", timeout=5).raise_for_status()

    def routes(self) -> dict[str, Any]:
        doc: dict[str, Any] = httpx.get(f"{self.control_url}/routes", timeout=5).json()
        return doc

    def counter(self, route: str, name: str) -> int:
        return int(self.routes()[route]["counters"].get(name, 0))


def start_proxy(
    control_port: int, routes: dict[str, tuple[int, int]], log: Path
) -> subprocess.Popen[bytes]:
    """``routes``: name -> (listen port, upstream port), all on 127.0.0.1."""
    argv = [sys.executable, "-m", "faults.proxy", "--control", str(control_port)]
    for name, (listen, upstream) in routes.items():
        argv += ["--route", f"{name}={listen}:127.0.0.1:{upstream}"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{control_port}/routes", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"fault proxy exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("fault proxy did not start")


@dataclass
class Controls:
    """Signals for a Stack's processes; ``counters`` records what was done."""

    procs: dict[str, subprocess.Popen[bytes]]
    counters: Counter[str] = field(default_factory=Counter)

    def signal(self, name: str, sig: signal.Signals) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, sig)
        self.counters[f"{name}:{sig.name}"] += 1
        if sig == signal.SIGKILL:
            proc.wait(15)

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)

    def pause(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)
