"""Session fixtures of one test directory end with its last test (support.directory_scope):
the e2e stack, the fault suite's world and the Kafka cluster no longer idle, polling, through
every later test of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from support import directory_scope


@dataclass
class FakeItem:
    path: Path
    nodeid: str


@pytest.mark.parametrize(
    ("order", "last"),
    [
        # closed after test_b, before test_c runs
        (("e2e/test_a.py", "e2e/test_b.py", "unit/test_c.py"), 1),
        # paths given out of order on the command line: the last collected test counts
        (("e2e/test_a.py", "unit/test_c.py", "e2e/test_b.py"), 2),
    ],
)
def test_a_directory_s_fixture_closes_after_its_last_test_not_before(
    tmp_path: Path, order: tuple[str, ...], last: int
) -> None:
    run = cast(list[pytest.Item], [FakeItem(tmp_path / p, p) for p in order])
    directory_scope.note_collected(run)
    closed: list[str] = []
    with directory_scope.closed_after(tmp_path / "e2e") as exits:
        exits.callback(closed.append, "stack")
        for index, item in enumerate(run):
            directory_scope.close_finished(item)
            assert closed == (["stack"] if index >= last else [])
    assert closed == ["stack"]  # the fixture's own teardown closes nothing twice
