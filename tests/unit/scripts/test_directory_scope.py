"""Session fixtures of one test directory end with its last test (support.directory_scope):
the e2e stack, the fault suite's world and the Kafka cluster no longer idle, polling, through
every later test of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from support import directory_scope


@dataclass
class FakeItem:
    path: Path
    nodeid: str


def items(*paths: str) -> list[pytest.Item]:
    return cast(list[pytest.Item], [FakeItem(Path(p), p) for p in paths])


def test_a_directory_s_fixture_closes_after_its_last_test_not_before(tmp_path: Path) -> None:
    e2e, unit = tmp_path / "e2e", tmp_path / "unit"
    run = items(f"{e2e}/test_a.py", f"{e2e}/test_b.py", f"{unit}/test_c.py")
    directory_scope.note_collected(run)
    closed: list[str] = []
    with directory_scope.closed_after(e2e) as exits:
        exits.callback(closed.append, "stack")
        directory_scope.close_finished(run[0])
        assert closed == []  # test_b still needs it
        directory_scope.close_finished(run[1])
        assert closed == ["stack"]  # before test_c runs
        directory_scope.close_finished(run[2])
    assert closed == ["stack"]  # the fixture's own teardown closes nothing twice


def test_a_directory_run_again_later_keeps_its_fixture_until_then(tmp_path: Path) -> None:
    """Paths given out of order on the command line: the last collected test counts."""
    e2e, unit = tmp_path / "e2e", tmp_path / "unit"
    run = items(f"{e2e}/test_a.py", f"{unit}/test_c.py", f"{e2e}/test_b.py")
    directory_scope.note_collected(run)
    closed: list[Any] = []
    with directory_scope.closed_after(e2e) as exits:
        exits.callback(closed.append, "stack")
        directory_scope.close_finished(run[0])
        directory_scope.close_finished(run[1])
        assert closed == []
        directory_scope.close_finished(run[2])
        assert closed == ["stack"]
