"""Where a bench step's CPU goes: per process and for the whole machine, from ``/proc``.

A throughput figure on a shared 2-core machine says little on its own: the question behind a
knee is whether the system ran out of CPU (and whose) or waited on something. :class:`CpuMeter`
reads the cumulative user+system time of named processes (services, simulators, the broker,
redis-server, the bench and its generator children) and of the whole machine before and after
a step; :func:`per_command` turns the difference into cores busy and CPU microseconds per
command, the figure that says how far a rate can go on this machine.

Linux only (``/proc``); elsewhere the meter reads nothing and the bench says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_ticks(pid: int) -> int | None:
    """User + system clock ticks of one process so far (None if it is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name may hold spaces and parentheses
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from the first line of /proc/stat."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return 0, 0
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (the bench's generator processes)."""
    out = []
    for entry in PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def find_pid(*needles: str) -> int | None:
    """The first process whose command line holds every needle (the broker, redis-server)."""
    for entry in sorted(PROC.glob("[0-9]*"), key=lambda p: int(p.name)):
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmd for n in needles):
            return int(entry.name)
    return None


def infra_pids(bootstrap: str, redis_url: str, redis_ports: Sequence[int] = ()) -> dict[str, int]:
    """The local broker and redis-server behind the bench's addresses, where found; every
    node of a Redis Cluster when its ``redis_ports`` are given (``bench.live.redis_layout``)."""
    out: dict[str, int] = {}
    kafka_port = bootstrap.rsplit(":", 1)[-1]
    broker = find_pid("kafka.Kafka", f"{kafka_port}") or find_pid("kafka.Kafka")
    if broker:
        out["kafka broker"] = broker
    if redis_ports:
        for port in redis_ports:
            if node := find_pid("redis-server", f":{port}"):
                out[f"redis-server :{port}"] = node
        return out
    redis_port = redis_url.rsplit(":", 1)[-1].split("/", 1)[0]
    if redis := find_pid("redis-server", f":{redis_port}"):
        out["redis-server"] = redis
    return out


@dataclass
class CpuMeter:
    """Snapshots of named processes' CPU time and the machine's, per step."""

    pids: dict[str, int]
    include_children: bool = True  # the bench's own children count as "bench (generator)"
    _start: dict[str, int] = field(default_factory=dict)
    _machine: tuple[int, int] = (0, 0)
    _t0: float = 0.0

    def _ticks(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, pid in self.pids.items():
            ticks = process_ticks(pid)
            if ticks is not None:
                out[name] = ticks
        if self.include_children:
            me = os.getpid()
            total = process_ticks(me) or 0
            named = set(self.pids.values())
            for child in children_of(me):
                if child not in named:
                    total += process_ticks(child) or 0
            out["bench (generator)"] = total
        return out

    def start(self) -> None:
        self._start, self._machine, self._t0 = self._ticks(), machine_ticks(), time.monotonic()

    def stop(self) -> dict[str, Any]:
        """Cores busy per process, the machine's busy cores and its core count, over the
        time since :meth:`start`."""
        end, machine, seconds = self._ticks(), machine_ticks(), time.monotonic() - self._t0
        if seconds <= 0:
            return {}
        cores = {
            name: round((end[name] - self._start[name]) / TICKS / seconds, 3)
            for name in end
            if name in self._start
        }
        busy = (machine[0] - self._machine[0]) / TICKS / seconds
        all_cores = (machine[1] - self._machine[1]) / TICKS / seconds
        return {
            "seconds": round(seconds, 2),
            "cores": cores,
            "machine_busy_cores": round(busy, 3),
            "machine_cores": round(all_cores, 2),
        }


def per_command(cpu: Mapping[str, Any], rate: float) -> dict[str, Any]:
    """CPU microseconds per command for each process, the named total and the machine's
    (what the step's ``rate`` of commands cost; "other" is what no named process used)."""
    if not cpu or rate <= 0:
        return {}
    cores: Mapping[str, float] = cpu["cores"]
    us = {name: round(c / rate * 1e6, 1) for name, c in cores.items()}
    named = sum(cores.values())
    other = max(0.0, cpu["machine_busy_cores"] - named)
    return {
        "us": dict(sorted(us.items(), key=lambda kv: -kv[1])),
        "other_us": round(other / rate * 1e6, 1),
        "machine_us": round(cpu["machine_busy_cores"] / rate * 1e6, 1),
        "machine_busy_share": round(cpu["machine_busy_cores"] / cpu["machine_cores"], 3)
        if cpu["machine_cores"]
        else None,
    }
