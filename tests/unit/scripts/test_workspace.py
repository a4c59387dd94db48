"""What a new service still needs by hand, each named with the file to edit.

Most lists derive from the workspace (``scripts/workspace.py``: the local run's services, the
deploy tests' port table, the metrics check, ruff's first-party packages); these are the
few that cannot, and each failure says exactly what to add where."""

from __future__ import annotations

import tomllib

import pytest

from workspace import ROOT, members, services

ROOT_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS = {m.package: m for m in members()}


def test_the_workspace_has_the_known_members() -> None:
    assert {"stocksync-common", "stocksync-simulators", "stocksync-order-consumer"} <= set(MEMBERS)
    assert MEMBERS["stocksync-common"].module == "stocksync_common"
    assert [s.name for s in services()][:2] == ["webhook-receiver", "order-consumer"]
    from stack import SERVICES  # imports every service's settings: here, not at collection

    assert tuple(s.name for s in services()) == SERVICES


@pytest.mark.parametrize("package", sorted(MEMBERS))
def test_the_root_pyproject_installs_and_type_checks_every_member(package: str) -> None:
    """uv installs only what the root's dev group names (the root is virtual, no glob), and
    mypy finds a member's modules only through ``mypy_path`` (no glob either)."""
    folder = MEMBERS[package].folder.as_posix()
    dev = ROOT_PYPROJECT["dependency-groups"]["dev"]
    assert package in dev, f'pyproject.toml (root): add "{package}" to [dependency-groups] dev'
    sources = ROOT_PYPROJECT["tool"]["uv"]["sources"]
    assert sources.get(package) == {"workspace": True}, (
        f"pyproject.toml (root): add [tool.uv.sources.{package}] with workspace = true"
    )
    paths = ROOT_PYPROJECT["tool"]["mypy"]["mypy_path"].split(":")
    assert f"$MYPY_CONFIG_FILE_DIR/{folder}/src" in paths, (
        f"pyproject.toml (root): add $MYPY_CONFIG_FILE_DIR/{folder}/src to [tool.mypy] mypy_path"
    )


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
    port = getattr(Ports(), info.module, None)
    assert port == info.port, (
        f"scripts/stack.py: add `{info.module}: int = {info.port}` to Ports (its Settings' "
        "default http_port)"
    )


@pytest.mark.parametrize("package", sorted(MEMBERS))
def test_the_dockerfile_copies_every_members_manifest(package: str) -> None:
    """uv needs every member's pyproject.toml to read the workspace's lock."""
    folder = MEMBERS[package].folder.as_posix()
    line = f"COPY {folder}/pyproject.toml {folder}/"
    assert line in (ROOT / "Dockerfile").read_text().splitlines(), f"Dockerfile: add `{line}`"
