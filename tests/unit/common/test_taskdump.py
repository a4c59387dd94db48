"""``kill -USR1`` on a service logs where each of its asyncio tasks waits."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from stocksync_common import taskdump


async def parked(event: asyncio.Event) -> None:
    await event.wait()


async def test_the_dump_names_each_task_and_the_line_it_waits_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = asyncio.Event()
    task = asyncio.create_task(parked(event), name="lane:parent")
    await asyncio.sleep(0)  # let it reach its wait
    caplog.set_level(logging.WARNING, logger=taskdump.__name__)
    with taskdump.on_signal():
        os.kill(os.getpid(), signal.SIGUSR1)
        deadline = asyncio.get_running_loop().time() + 5
        while not caplog.records and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
    event.set()
    await task
    lines: list[str] = caplog.records[0].tasks  # type: ignore[attr-defined]
    lane = [line for line in lines if line.startswith("lane:parent")]
    assert lane and "parked (test_taskdump.py:" in lane[0]
