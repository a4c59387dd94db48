"""Session fixtures that end with their directory's last test.

A fixture scoped ``"package"`` in a directory without ``__init__.py`` lives for the whole
session (pytest has no package there), and so does a ``"session"`` one: the e2e stack (seven
services and the simulators), the fault suite's world (a broker, Redis and a stack of its
own) and the three-broker cluster each kept running, idle but polling, through every test
after theirs, on the same two cores as those tests. A fixture that registers its teardown
here (``closed_after``) is closed right after the last collected test of its directory has
run; pytest's own teardown at the session's end then finds nothing left to close.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

_open: dict[Path, list[contextlib.ExitStack]] = {}
_last: dict[Path, str] = {}  # directory -> node id of its last collected test


@contextlib.contextmanager
def closed_after(directory: Path) -> Iterator[contextlib.ExitStack]:
    """An exit stack the fixture enters its resources on; closed after ``directory``'s last
    test (or when the fixture itself is torn down, whichever comes first)."""
    directory = directory.resolve()
    with contextlib.ExitStack() as exits:
        _open.setdefault(directory, []).append(exits)
        try:
            yield exits
        finally:
            with contextlib.suppress(KeyError, ValueError):  # already closed and gone
                _open[directory].remove(exits)


def note_collected(items: list[pytest.Item]) -> None:
    """Remember the last test of every directory (in the order they will run)."""
    _last.clear()
    for item in items:
        for directory in Path(item.path).resolve().parents:
            _last[directory] = item.nodeid


def close_finished(item: pytest.Item) -> None:
    """Close what directories whose last test was ``item`` still hold open."""
    for directory in Path(item.path).resolve().parents:
        if _last.get(directory) != item.nodeid:
            continue
        for exits in reversed(_open.pop(directory, [])):
            exits.close()
