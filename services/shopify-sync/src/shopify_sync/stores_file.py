"""Writing a store's location mapping into the stores file (``STOCKSYNC_STORES_FILE``), where
every service reads it at start.

The file is edited as text so its comments and layout stay: the store's ``locations:`` block
is replaced (or added at the end of its entry). The result is parsed again and must equal the
old file with only that store's ``locations`` changed, else nothing is written. The new file
replaces the old one atomically (a temporary file in the same directory, then a rename)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class StoresFileError(ValueError):
    """The stores file could not be edited safely; the message says why."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _meaningful(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _entry(lines: list[str], shop: str) -> tuple[int, int, int]:
    """(first line, end line (exclusive), key indent) of the store's list entry."""
    pattern = re.compile(rf"^(\s*)(- )?shop:\s*[\"']?{re.escape(shop)}[\"']?\s*(#.*)?$")
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if not match:
            continue
        key_indent = len(match.group(1)) + (2 if match.group(2) else 0)
        start = i
        while not lines[start].lstrip().startswith("- "):
            start -= 1
        end = i + 1
        while end < len(lines) and (
            not _meaningful(lines[end]) or _indent(lines[end]) >= key_indent
        ):
            end += 1
        while end > i + 1 and not _meaningful(lines[end - 1]):  # trailing blanks stay outside
            end -= 1
        return start, end, key_indent
    raise StoresFileError(f"{shop} not found as 'shop: {shop}' in the stores file")


def _without_locations(lines: list[str], start: int, end: int, indent: int) -> list[str]:
    """The entry's lines without its ``locations:`` key and the lines nested under it."""
    if re.match(r"^\s*- locations\s*:", lines[start]):
        raise StoresFileError("an entry that starts with 'locations:' is not edited")
    out: list[str] = []
    skipping = False
    for line in lines[start:end]:
        if _indent(line) == indent and re.match(r"^\s*locations\s*:", line):
            skipping = True
        elif skipping and (not _meaningful(line) or _indent(line) > indent):
            continue
        else:
            skipping = False
            out.append(line)
    return out


def with_locations(text: str, shop: str, mapping: Mapping[str, str]) -> str:
    """The stores file ``text`` with ``shop``'s ``locations`` set to ``mapping``."""
    lines = text.splitlines()
    start, end, indent = _entry(lines, shop)
    entry = _without_locations(lines, start, end, indent)
    pad = " " * indent
    block = [f"{pad}locations:"] + [
        f"{pad}  {json.dumps(k)}: {json.dumps(v)}" for k, v in mapping.items()
    ]
    new = [*lines[:start], *entry, *block, *lines[end:]]
    out = "\n".join(new) + "\n"
    _check(text, out, shop, mapping)
    return out


def _check(old: str, new: str, shop: str, mapping: Mapping[str, str]) -> None:
    before: Any = yaml.safe_load(old)
    try:
        after: Any = yaml.safe_load(new)
    except yaml.YAMLError as exc:
        raise StoresFileError(f"editing the file would break it: {exc}") from None
    for doc in (before, after):
        for store in doc.get("stores") or []:
            if store.get("shop") == shop:
                store["locations"] = dict(mapping)
    if before != after:
        raise StoresFileError("editing the file would change more than the store's locations")


def write_locations(path: str | Path, shop: str, mapping: Mapping[str, str]) -> None:
    target = Path(path)
    text = with_locations(target.read_text(encoding="utf-8"), shop, mapping)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def snippet(shop: str, mapping: Mapping[str, str]) -> str:
    """The YAML to paste under the store's entry."""
    lines = [f"# {shop}", "locations:"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in mapping.items()]
    return "\n".join(lines)
