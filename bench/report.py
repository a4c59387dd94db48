"""What every bench shares: the machine, percentiles, the results file, and its own section
of docs/benchmarks.md (rewritten between marker comments, other sections left alone)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"

# Only used if docs/benchmarks.md is missing; the doc's own intro is kept as it is.
INTRO = "# Benchmarks\n\nMeasured by the scripts in `bench/`; see `bench/README.md`.\n"


def now_utc() -> datetime:
    return datetime.now(UTC)


def machine() -> dict[str, Any]:
    """Cores, CPU model and memory of this machine (from /proc where there is one)."""
    model, mem_kb = platform.processor() or platform.machine(), 0
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    return {
        "cores": os.cpu_count() or 0,
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        # other work on the machine when the run started skews every figure
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, Python {m['python']}, "
        f"load average {m['load_avg_1m']} when it started"
    )


def percentile(sorted_values: list[float], p: float) -> float:
    """The one percentile of every bench: nearest rank of an already sorted list, the value at
    rank ``round(p / 100 * n)`` (1-based, Python's ``round``, clamped to 1..n); 0 for an empty
    list. p is in percent (50, 99, 99.9)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def command_line(module: str) -> str:
    return shlex.join(["uv", "run", "python", "-m", module, *sys.argv[1:]])


def with_db(url: str, db: int) -> str:
    """The same Redis URL pointing at database ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def write_results(scenario: str, data: dict[str, Any], *, at: datetime) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{scenario}-{at.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def update_section(scenario: str, title: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the ``## title`` section of ``scenario`` in the benchmarks doc."""
    begin, end = f"<!-- bench:{scenario}:begin -->", f"<!-- bench:{scenario}:end -->"
    block = f"{begin}\n## {title}\n\n{body.strip()}\n{end}\n"
    text = doc.read_text() if doc.exists() else INTRO
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def finish(
    scenario: str,
    title: str,
    data: dict[str, Any],
    *,
    at: datetime,
    box: dict[str, Any],
    doc: bool,
    smoke: bool,
    render: Callable[[dict[str, Any], str], str],
    brief: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    """The end of a bench run: stamp the figures (machine at the start, date, command), write
    the JSON, rewrite the scenario's doc section unless ``smoke`` or not ``doc``, print a
    one-line summary; exit status 1 if the run found a correctness failure."""
    data |= {"machine": box, "date": at.isoformat(), "command": command_line(f"bench.{scenario}")}
    path = write_results(f"{scenario}-smoke" if smoke else scenario, data, at=at)
    if doc and not smoke:
        update_section(scenario, title, render(data, str(path.relative_to(ROOT))))
    print(json.dumps({**brief(data), "failures": data["failures"], "results": str(path)}))  # noqa: T201
    return 1 if data["failures"] else 0


def cpu_jiffies(pgid: int) -> int:
    """utime + stime of every process in a process group (the receiver and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[11]) + int(fields[12])
    return total


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def cpu_use(pgids: dict[str, int]) -> Callable[[], dict[str, Any]]:
    """Start counting the CPU of each process group and of the whole machine; the returned
    call says, since then, each group's share of a core and the machine's busy share."""
    tick = os.sysconf("SC_CLK_TCK")
    start = {name: cpu_jiffies(g) for name, g in pgids.items()}
    busy0, total0 = machine_busy()
    began = time.monotonic()

    def since() -> dict[str, Any]:
        wall = max(time.monotonic() - began, 1e-9)
        busy1, total1 = machine_busy()
        cores = {name: round((cpu_jiffies(g) - start[name]) / tick / wall, 3)
                 for name, g in pgids.items()}  # fmt: skip
        return {
            "seconds": round(wall, 1),
            "cores": dict(sorted(cores.items(), key=lambda kv: -kv[1])),
            "machine_busy": round((busy1 - busy0) / max(total1 - total0, 1), 3),
            "cpus": os.cpu_count(),
        }

    return since


def infra_pgids() -> dict[str, int]:
    """Process groups of the Kafka brokers and Redis servers on this machine (whichever
    the bench uses; a quiet machine runs one of each)."""
    out: dict[str, int] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            args = cmdline.read_bytes().split(b"\0")
            name = (
                "kafka" if b"kafka.Kafka" in args else "redis" if b"redis-server" in args[0] else ""
            )
            if name:
                pid = int(cmdline.parent.name)
                out[f"{name}-{pid}"] = os.getpgid(pid)
    return out
