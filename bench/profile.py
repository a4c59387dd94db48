"""Sampling profiles of running services with py-spy, summarised as where the time goes.

``spy`` records the given processes (and their children) in py-spy's collapsed-stack format
while a bench runs; ``hotspots`` reads such a file back: the share of samples each frame
is on the stack of (inclusive) and at the top of (self).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENTRY_SHARE = 0.9
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


@contextmanager
def spy(pids: dict[str, int], out_dir: Path, rate: int = 50) -> Iterator[dict[str, Path]]:
    """Record each process until the block ends; yields name -> collapsed-stack file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / f"{name}.collapsed.txt" for name in pids}
    procs = [
        subprocess.Popen(  # noqa: S603 - py-spy on our own child processes
            [
                PY_SPY,
                "record",
                "--format",
                "raw",
                "--rate",
                str(rate),
                "--subprocesses",
                "--nonblocking",
                "--pid",
                str(pid),
                "--output",
                str(files[name]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name, pid in pids.items()
    ]
    try:
        yield files
    finally:
        for proc in procs:
            proc.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``module.py:func``."""
    func, _, where = frame.partition(" (")
    file = where.split(":", 1)[0].rsplit("/", 1)[-1]
    return f"{file}:{func}" if file else func


def hotspots(path: Path, top: int = 12) -> dict[str, Any]:
    """Inclusive and self shares of the most sampled frames in one collapsed-stack file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "inclusive": [], "self": []}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # first is the process
        total += count
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    # frames on (nearly) every stack are the process's entry chain (runpy, uvicorn, the
    # event loop's run): they say nothing about where the time goes
    for name in [n for n, c in inclusive.items() if total and c >= ENTRY_SHARE * total]:
        del inclusive[name]
    return {"samples": total, "inclusive": share(inclusive), "self": share(own)}
