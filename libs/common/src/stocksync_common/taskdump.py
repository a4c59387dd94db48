"""What a running service is waiting on: ``kill -USR1 <pid>`` logs every asyncio task
with the line it is suspended at (warning level, so a quiet log still shows it).

A stalled service (a lane that stopped writing, a consumer that stopped committing) shows
nothing in its metrics but a flat line; its tasks' stacks show where each one waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

log = logging.getLogger(__name__)
MAX_FRAMES = 12


def describe(task: asyncio.Task[object]) -> str:
    """The task's name and its stack, innermost frame last (``MAX_FRAMES`` at most)."""
    frames = task.get_stack(limit=MAX_FRAMES)
    where = " <- ".join(
        f"{f.f_code.co_name} ({f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno})"
        for f in reversed(frames)
    )
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", type(coro).__name__)
    return f"{task.get_name()} [{name}]: {where or 'not started or done'}"


def dump(loop: asyncio.AbstractEventLoop | None = None) -> list[str]:
    """Every task of ``loop`` (the running one by default), described and logged."""
    tasks = asyncio.all_tasks(loop)
    lines = sorted(describe(t) for t in tasks)
    log.warning("asyncio tasks", extra={"count": len(lines), "tasks": lines})
    return lines


@contextlib.contextmanager
def on_signal(sig: int = signal.SIGUSR1) -> Iterator[None]:
    """While open, ``sig`` dumps the running loop's tasks (where signals can be handled)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(sig, dump, loop)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(sig)
