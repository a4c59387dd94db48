"""The workspace's members and services, read from their ``pyproject.toml`` files.

The one list that the local run (``stack.SERVICES``), the deploy tests' port table and the
metrics check derive theirs from: a service is a folder ``services/<name>/`` with a
``pyproject.toml``, its import name (``[tool.uv.build-backend] module-name``) and its HTTP port
(its ``Settings``' default ``http_port``). Adding a service adds it here by itself.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Member:
    """One workspace member: its package (``stocksync-...``), folder and import name."""

    package: str
    folder: Path  # relative to the root
    module: str


@dataclass(frozen=True)
class ServiceInfo:
    """A service: its name (its folder's), import name and default HTTP port."""

    name: str
    module: str
    port: int


def _module(doc: dict[str, Any]) -> str:
    """The import name: ``module-name``, else the package name as uv_build derives it."""
    name = doc.get("tool", {}).get("uv", {}).get("build-backend", {}).get("module-name")
    return str(name or doc["project"]["name"].replace("-", "_"))


@cache
def members() -> tuple[Member, ...]:
    """Every member, from the root's ``[tool.uv.workspace] members`` globs."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for folder in sorted(ROOT.glob(pattern)):
            manifest = folder / "pyproject.toml"
            if manifest.is_file():
                doc = tomllib.loads(manifest.read_text())
                relative = folder.relative_to(ROOT)
                found.append(Member(doc["project"]["name"], relative, _module(doc)))
    return tuple(found)


@cache
def services() -> tuple[ServiceInfo, ...]:
    """Every service (a member under ``services/``), in the order of their ports."""
    found = []
    for member in members():
        if member.folder.parts[0] != "services":
            continue
        try:
            settings = importlib.import_module(f"{member.module}.settings").Settings
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                f"{member.folder}: {member.module}.settings cannot be imported ({exc}); a new "
                "service goes into the root pyproject.toml (tests/unit/scripts/"
                "test_workspace.py says where), then `uv lock` and `uv sync`"
            ) from exc
        port = settings.model_fields["http_port"].default
        if not isinstance(port, int):
            raise TypeError(f"{member.module}.settings.Settings needs a default http_port")
        found.append(ServiceInfo(member.folder.name, member.module, port))
    return tuple(sorted(found, key=lambda s: s.port))
