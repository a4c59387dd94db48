"""The fault suite's session: its own broker, Redis, fault proxy and stack (faults.world)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults.world import World, open_world, write_results

from support.directory_scope import closed_after
from support.infra import PORT_SHIFT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    base = os.environ.get("STOCKSYNC_TEST_STATE_DIR")
    state = (Path(base) if base else ROOT / ".work" / "test") / "faults"
    with closed_after(Path(__file__).parent) as exits:  # closed after the last fault test
        w = exits.enter_context(open_world(state, PORT_SHIFT))

        @exits.callback
        def results() -> None:  # before the world closes (an exit stack unwinds backwards)
            if w.results:
                write_results(w.results, float(os.environ.get("FAULTS_SCALE", "1")))

        yield w
