"""A new service needs no list kept by hand: every one derives from the workspace
(``scripts/workspace.py``: the installed members, the local run's services and ports, the
deploy tests' port table, the metrics check, ruff's first-party packages), and the two that
tools cannot glob (uv.lock, mypy_path) are written by a command, each checked here."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from workspace import ROOT, main, members, services, with_mypy_path

ROOT_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS = {m.package: m for m in members()}


def test_the_workspace_has_the_known_members() -> None:
    assert {"stocksync-common", "stocksync-simulators", "stocksync-order-consumer"} <= set(MEMBERS)
    assert MEMBERS["stocksync-common"].module == "stocksync_common"
    assert [s.name for s in services()][:2] == ["webhook-receiver", "order-consumer"]
    from stack import SERVICES  # imports every service's settings: here, not at collection

    assert tuple(s.name for s in services()) == SERVICES


def test_the_root_installs_every_member_without_a_list() -> None:
    """A virtual root installs every member (``uv sync``): a member named in the dev group or
    in a source of its own is a hand list to keep up, so there is none."""
    dev = ROOT_PYPROJECT["dependency-groups"]["dev"]
    assert not [d for d in dev if d.split(">")[0].split("=")[0] in MEMBERS], "no member in dev"
    sources = set(ROOT_PYPROJECT["tool"]["uv"]["sources"])
    assert sources == {"stocksync-common"}, "only what members depend on"
    assert "project" not in ROOT_PYPROJECT, "a virtual root (a [project] installs only itself)"


def test_the_lock_holds_every_member() -> None:
    """``uv sync --frozen`` installs what uv.lock lists: a member added without ``uv lock``
    would be missing from the environment."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert set(lock["manifest"]["members"]) == set(MEMBERS), "run `uv lock`"


def test_mypy_path_is_written_from_the_members() -> None:
    """mypy takes no globs: ``scripts/workspace.py`` writes the line (a stale one fails)."""
    text = (ROOT / "pyproject.toml").read_text()
    assert with_mypy_path(text) == text, "run `uv run python scripts/workspace.py`"
    paths = ROOT_PYPROJECT["tool"]["mypy"]["mypy_path"].split(":")
    for member in MEMBERS.values():
        assert f"$MYPY_CONFIG_FILE_DIR/{member.folder.as_posix()}/src" in paths
    assert main(["--check"]) == 0


def test_mypy_path_follows_a_new_member(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["libs/*", "services/*"]\n[tool.mypy]\nmypy_path = "x"\n'
    )
    for folder, name in (("libs/common", "stocksync-common"), ("services/pricing", "p-x")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    assert main(["--check"], root=tmp_path) == 1, "stale"
    assert main([], root=tmp_path) == 0
    assert main(["--check"], root=tmp_path) == 0
    line = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["mypy"]["mypy_path"]
    assert line.split(":")[:2] == [
        "$MYPY_CONFIG_FILE_DIR/libs/common/src",
        "$MYPY_CONFIG_FILE_DIR/services/pricing/src",
    ]
    assert line.endswith(":$MYPY_CONFIG_FILE_DIR/scripts:$MYPY_CONFIG_FILE_DIR")


def test_ruff_finds_every_members_package_without_a_list() -> None:
    ruff = ROOT_PYPROJECT["tool"]["ruff"]
    assert {"libs/*/src", "services/*/src"} <= set(ruff["src"])
    listed = set(ruff["lint"]["isort"]["known-first-party"])
    assert not listed & {m.module for m in members()}, "first-party through [tool.ruff] src"


SERVICE_FOLDERS = [m.folder.name for m in members() if m.folder.parts[0] == "services"]


@pytest.mark.parametrize("service", SERVICE_FOLDERS)
def test_the_local_run_has_a_port_for_every_service(service: str) -> None:
    from stack import Ports

    info = next(s for s in services() if s.name == service)
    assert Ports().of(info.module) == info.port, "its Settings' default http_port"
    assert Ports().shifted(100).of(info.module) == info.port + 100
    assert Ports().named()[info.module] == info.port
