"""The workspace's members and services, read from their ``pyproject.toml`` files.

The one list that the local run (``stack.SERVICES``), the deploy tests' port table and the
metrics check derive theirs from: a service is a folder ``services/<name>/`` with a
``pyproject.toml``, its import name (``[tool.uv.build-backend] module-name``) and its HTTP port
(its ``Settings``' default ``http_port``). Adding a service adds it here by itself.

mypy takes no globs in ``mypy_path``, so the root ``pyproject.toml``'s is written from the
members (every member's ``src``, then :data:`MYPY_EXTRA`):

    uv run python scripts/workspace.py          # rewrite [tool.mypy] mypy_path
    uv run python scripts/workspace.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
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
def members(root: Path = ROOT) -> tuple[Member, ...]:
    """Every member, from the root's ``[tool.uv.workspace] members`` globs."""
    doc = tomllib.loads((root / "pyproject.toml").read_text())
    found = []
    for pattern in doc["tool"]["uv"]["workspace"]["members"]:
        for folder in sorted(root.glob(pattern)):
            manifest = folder / "pyproject.toml"
            if manifest.is_file():
                member = tomllib.loads(manifest.read_text())
                relative = folder.relative_to(root)
                found.append(Member(member["project"]["name"], relative, _module(member)))
    return tuple(found)


@cache
def services(root: Path = ROOT) -> tuple[ServiceInfo, ...]:
    """Every service (a member under ``services/``), in the order of their ports."""
    found = []
    for member in members(root):
        if member.folder.parts[0] != "services":
            continue
        try:
            settings = importlib.import_module(f"{member.module}.settings").Settings
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                f"{member.folder}: {member.module}.settings cannot be imported ({exc}); "
                "after adding a service run `uv lock` and `uv sync` (the root installs every "
                "member)"
            ) from exc
        port = settings.model_fields["http_port"].default
        if not isinstance(port, int):
            raise TypeError(f"{member.module}.settings.Settings needs a default http_port")
        found.append(ServiceInfo(member.folder.name, member.module, port))
    return tuple(sorted(found, key=lambda s: s.port))


# mypy_path after the members' sources: the test helpers, the scripts and the root (bench,
# deploy), as modules of their own.
MYPY_EXTRA = ("tests", "scripts", "")
MYPY_PATH_LINE = re.compile(r'^mypy_path = "[^"\n]*"$', re.MULTILINE)


def mypy_path(root: Path = ROOT) -> str:
    """The root's ``[tool.mypy] mypy_path``: every member's ``src``, then :data:`MYPY_EXTRA`."""
    folders = [f"{m.folder.as_posix()}/src" for m in members(root)] + list(MYPY_EXTRA)
    return ":".join(f"$MYPY_CONFIG_FILE_DIR/{f}".rstrip("/") for f in folders)


def with_mypy_path(text: str, root: Path = ROOT) -> str:
    """``text`` (the root pyproject.toml) with its mypy_path line written from the members."""
    if len(MYPY_PATH_LINE.findall(text)) != 1:
        raise ValueError('pyproject.toml (root): expected one `mypy_path = "..."` line')
    return MYPY_PATH_LINE.sub(lambda _: f'mypy_path = "{mypy_path(root)}"', text)


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description="Write the root pyproject.toml's mypy_path.")
    parser.add_argument("--check", action="store_true", help="exit 1 if it is stale")
    args = parser.parse_args(argv)
    manifest = root / "pyproject.toml"
    text = manifest.read_text()
    wanted = with_mypy_path(text, root)
    if args.check:
        if wanted != text:
            sys.stderr.write(f"{manifest}: mypy_path is out of date; run scripts/workspace.py\n")
            return 1
        return 0
    manifest.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
