"""The local run as a user starts it (#25): ``scripts/up.sh`` piped through ``tee``. Its
Prometheus scrapes every service; a service killed under it is reported and restarted;
Ctrl-C (SIGINT to the terminal's process group, which kills ``tee`` too) stops every
process it started: every port closes.

It starts its own Kafka and Redis (up.sh does) on free ports, and the services and
simulators on ports shifted away from the other tests'."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack import ROOT, Ports
from support.infra import PORT_SHIFT
from support.poll import wait_for

pytestmark = pytest.mark.e2e
INFRA = ("kafka", "redis")  # up.sh starts them on ports of their own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def free_offset() -> int:
    """A shift of the services' and simulators' ports (8080-8092) onto free ones."""
    base = Ports()
    for offset in range(21000 + PORT_SHIFT, 30000, 100):
        if all(is_free(p + offset) for n, p in base.named().items() if n not in INFRA):
            return offset
    raise RuntimeError("no free block of ports")


def pid_on(port: int, state_dir: Path) -> int:
    """The process of this run listening on ``port`` (its environment names our state dir)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if str(state_dir).encode() not in (proc / "environ").read_bytes():
                continue
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
    raise LookupError(f"nobody of this run listens on {port}")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int], Path]]:
    state = tmp_path / "state"
    offset = free_offset()
    kafka, controller, redis = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")},
        "STOCKSYNC_STATE_DIR": str(state),
        "STOCKSYNC_PORT_OFFSET": str(offset),
        "KAFKA_PORT": str(kafka),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "REDIS_PORT": str(redis),
    }
    ports = {n: p + offset for n, p in Ports().named().items() if n not in INFRA}
    ports |= {"kafka": kafka, "redis": redis}
    log = tmp_path / "up.log"
    proc = subprocess.Popen(  # noqa: S603 - the README's command, as a user types it
        ["bash", "-c", f"scripts/up.sh 2>&1 | tee {log}"],  # noqa: S607
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a terminal's, for the Ctrl-C
    )
    try:
        yield proc, ports, state
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for script in ("kafka.sh", "redis.sh"):  # whatever a failure left behind
            subprocess.run(  # noqa: S603
                [ROOT / "scripts" / "infra" / script, "stop"], env=env, capture_output=True
            )


def test_a_killed_service_is_restarted_and_ctrl_c_through_tee_stops_everything(
    up: tuple[subprocess.Popen[bytes], dict[str, int], Path],
) -> None:
    proc, ports, state = up
    run_log = state / "run" / "logs" / "run.log"

    def said(text: str) -> bool | None:
        return (run_log.exists() and text in run_log.read_text()) or None

    ended = lambda: True if proc.poll() is not None else None  # noqa: E731
    wait_for("the run to be up", lambda: said("Running.") or ended(), 300)
    assert proc.poll() is None, run_log.read_text() if run_log.exists() else "no run log"
    assert all(listening(p) for p in ports.values()), ports

    def scraped() -> bool | None:
        url = f"http://127.0.0.1:{ports['prometheus']}/api/v1/targets"
        targets = httpx.get(url, timeout=2).json()["data"]["activeTargets"]
        return (len(targets) == 8 and all(t["health"] == "up" for t in targets)) or None

    wait_for("prometheus to scrape every service", scraped, 60)

    notifier = pid_on(ports["notifier"], state)
    os.kill(notifier, signal.SIGKILL)
    wait_for("the exit reported", lambda: said("notifier exited with code -9"), 30)
    wait_for("notifier restarted", lambda: said("notifier restarted"), 30)

    def healthy() -> bool | None:
        try:
            url = f"http://127.0.0.1:{ports['notifier']}/healthz"
            return httpx.get(url, timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    wait_for("the new notifier healthy", healthy, 60)
    assert pid_on(ports["notifier"], state) != notifier

    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: bash, up.sh, tee and the run all get it
    proc.wait(120)
    wait_for("every port closed", lambda: not any(map(listening, ports.values())) or None, 60)
    assert said("stopped the services and simulators")
