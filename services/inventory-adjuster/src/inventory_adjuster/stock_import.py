"""Parsing stock imports: CSV ``sku,location,on_hand`` or JSON lines of the same fields.

The format is the content type's when it names one (``text/csv``; ``application/json``,
``application/x-ndjson``, ``application/jsonl``), otherwise the content's: JSON lines when the
first line that is not blank starts with ``{``, CSV otherwise. Every problem is said per line
in words a merchant can act on; a SKU counted twice at one location is one of them (which
count would win is not something to guess).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Literal

import orjson

Format = Literal["csv", "jsonl"]
COLUMNS = ("sku", "location", "on_hand")


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    location: str
    on_hand: int


@dataclass
class ParsedImport:
    format: Format = "csv"
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class BadRow(ValueError):
    """What is wrong with one row, in words."""


def format_of(body: bytes, content_type: str) -> Format:
    kind = content_type.lower()
    if "csv" in kind:
        return "csv"
    if "json" in kind:
        return "jsonl"
    first = next((line for line in body.splitlines() if line.strip()), b"")
    return "jsonl" if first.lstrip().startswith(b"{") else "csv"


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRow(f"{name} is empty")
    return value.strip()


def _count(value: object) -> int:
    if isinstance(value, bool):
        raise BadRow(f"on_hand {value!r} is not a whole number")
    if isinstance(value, int):
        qty = value
    else:
        text = str(value if value is not None else "").strip()
        if not text:
            raise BadRow("on_hand is empty")
        try:
            qty = int(text)
        except ValueError:
            raise BadRow(f"on_hand {text!r} is not a whole number") from None
    if qty < 0:
        raise BadRow(f"on_hand {qty} is below 0")
    return qty


def _row(line: int, sku: object, location: object, on_hand: object) -> ImportRow:
    return ImportRow(line, _text(sku, "sku"), _text(location, "location"), _count(on_hand))


def parse_import(body: bytes, content_type: str) -> ParsedImport:
    out = ParsedImport(format_of(body, content_type))
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        out.errors.append(f"the file is not UTF-8 text (byte {exc.start})")
        return out
    if out.format == "csv":
        _csv(text, out)
    else:
        _jsonl(text, out)
    _duplicates(out)
    return out


def _csv(text: str, out: ParsedImport) -> None:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        out.errors.append(
            f"line 1: the header must name the columns {', '.join(COLUMNS)}; "
            f"missing {', '.join(missing)}"
        )
        return
    for n, rec in enumerate(reader, start=2):
        try:
            out.rows.append(_row(n, rec["sku"], rec["location"], rec["on_hand"]))
        except BadRow as exc:
            out.errors.append(f"line {n}: {exc}")


def _jsonl(text: str, out: ParsedImport) -> None:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.errors.append(f"line {n}: not valid JSON")
            continue
        if not isinstance(doc, dict):
            out.errors.append(f"line {n}: not a JSON object with sku, location and on_hand")
            continue
        try:
            out.rows.append(_row(n, doc.get("sku"), doc.get("location"), doc.get("on_hand")))
        except BadRow as exc:
            out.errors.append(f"line {n}: {exc}")


def _duplicates(out: ParsedImport) -> None:
    first: dict[tuple[str, str], int] = {}
    kept = []
    for row in out.rows:
        place = (row.sku, row.location)
        if place in first:
            out.errors.append(
                f"line {row.line}: {row.sku} at {row.location} is counted on line "
                f"{first[place]} already"
            )
            continue
        first[place] = row.line
        kept.append(row)
    out.rows = kept
