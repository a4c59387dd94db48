"""``stocksync-dlq`` (the installed console script) run against a test's Kafka and Redis."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("stocksync-dlq"))


async def run_cli(h: Any, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """The exit code, stdout and stderr (its audit lines: JSON, one a line) of one run
    against ``h``'s broker and Redis (a harness with ``bootstrap`` and ``redis_url``)."""
    env = {
        **os.environ,
        "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": h.bootstrap,
        "STOCKSYNC_REDIS_URL": h.redis_url,
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, *argv, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def cli(h: Any, *argv: str, stdin: bytes = b"") -> tuple[int, str]:
    """The exit code, and stdout with stderr's plain-text lines (its JSON audit lines left
    out: :func:`run_cli` gives them)."""
    code, out, err = await run_cli(h, *argv, stdin=stdin)
    plain = [line for line in err.splitlines(keepends=True) if not line.startswith("{")]
    return code, out + "".join(plain)
