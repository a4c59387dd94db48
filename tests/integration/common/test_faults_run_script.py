"""scripts/faults/run.sh --cluster starts the tests' redis-server when none is given, and
stops it when pytest ends: one left running on 16379 made the next scripts/test.sh (CI's
port) refuse to start."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_cluster_run_stops_the_redis_it_started(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "STOCKSYNC_TEST_REDIS"}
    env.update(REDIS_PORT=str(port), STOCKSYNC_STATE_DIR=str(tmp_path))
    # a selection that matches no case: pytest collects, runs nothing, exits 5
    done = subprocess.run(
        ["bash", "scripts/faults/run.sh", "--cluster", "-q", "-k", "no_such_case_here"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "ready" in done.stdout + done.stderr, done.stderr[-2000:]  # it did start one
    assert done.returncode == 5, done.stdout[-2000:]
    assert not _listening(port), "redis-server left running after the run"
