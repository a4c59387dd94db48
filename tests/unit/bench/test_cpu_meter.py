"""bench.cpu: CPU per process and per command for a bench step, from /proc (Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from bench import cpu, knee

linux = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@linux
def test_a_process_that_works_shows_its_cores_and_an_idle_one_none() -> None:
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # noqa: S603
    try:
        meter = cpu.CpuMeter({"idle child": idle.pid, "me": os.getpid()}, include_children=False)
        meter.start()
        busy(0.3)
        out = meter.stop()
    finally:
        idle.kill()
        idle.wait()
    # it spun 0.3 s of CPU (whatever share of the wall time a busy machine gave it)
    assert out["cores"]["me"] * out["seconds"] >= 0.25
    assert out["cores"]["idle child"] * out["seconds"] < 0.05
    assert out["machine_busy_cores"] >= out["cores"]["me"] - 0.1
    assert out["machine_cores"] >= 1


@linux
def test_a_gone_process_is_left_out_not_an_error() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    gone.wait()
    assert cpu.process_ticks(gone.pid) is None
    meter = cpu.CpuMeter({"gone": gone.pid}, include_children=False)
    meter.start()
    assert "gone" not in meter.stop()["cores"]


@linux
def test_the_bench_counts_its_unnamed_children_as_the_generator() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # noqa: S603
    try:
        assert child.pid in cpu.children_of(os.getpid())
        assert cpu.find_pid("import time; time.sleep(30)") is not None
        named = cpu.CpuMeter({"child": child.pid})
        named.start()
        busy(0.2)
        out = named.stop()
    finally:
        child.kill()
        child.wait()
    # this process's 0.2 s of CPU, the named child's none
    assert out["cores"]["bench (generator)"] * out["seconds"] >= 0.15
    assert out["cores"]["child"] * out["seconds"] < 0.05


def test_per_command_turns_cores_into_microseconds_of_cpu_per_command() -> None:
    measured = {"cores": {"adjuster": 0.5, "sync": 0.25}, "machine_busy_cores": 1.0,
                "machine_cores": 2.0, "seconds": 10.0}  # fmt: skip
    per = cpu.per_command(measured, rate=5000)
    assert per["us"] == {"adjuster": 100.0, "sync": 50.0}
    assert list(per["us"]) == ["adjuster", "sync"]  # the biggest first
    assert per["other_us"] == 50.0 and per["machine_us"] == 200.0
    assert per["machine_busy_share"] == 0.5
    assert cpu.per_command({}, 5000) == {} and cpu.per_command(measured, 0) == {}


def metered(rate: int, unbounded: bool) -> dict[str, Any]:
    cores = {"inventory-adjuster": 0.4}
    measured = {"cores": cores, "machine_busy_cores": 1.8, "machine_cores": 2.0, "seconds": 10}
    return {"rate": rate, "produced_per_s": float(rate), "unbounded": unbounded,
            "cpu": measured, "cpu_per_command": cpu.per_command(measured, rate)}  # fmt: skip


def test_the_report_shows_the_cpu_of_the_highest_step_that_kept_up() -> None:
    steps = [metered(1000, False), metered(2000, False), metered(4000, True)]
    assert knee.cpu_step(steps) is steps[1]
    assert knee.cpu_step([metered(4000, True)]) is not None
    assert knee.cpu_step([{"rate": 1, "unbounded": False}]) is None
    text = "\n".join(knee.cpu_lines("System", steps))
    assert "CPU at 2,000/s" in text
    assert "| inventory-adjuster | 0.40 | 200 |" in text
    assert "**1.80** of 2" in text and "**900**" in text
    assert knee.cpu_lines("System", []) == []
