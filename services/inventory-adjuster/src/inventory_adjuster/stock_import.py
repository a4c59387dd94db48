"""Parsing stock imports (CSV ``sku,location,on_hand`` or JSON lines of the same fields)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    location: str
    on_hand: int


@dataclass
class ParsedImport:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _row(line: int, sku: object, location: object, on_hand: object) -> ImportRow:
    if not isinstance(sku, str) or not sku.strip():
        raise ValueError("sku is empty")
    if not isinstance(location, str) or not location.strip():
        raise ValueError("location is empty")
    qty = int(str(on_hand).strip())
    if qty < 0:
        raise ValueError("on_hand is negative")
    return ImportRow(line, sku.strip(), location.strip(), qty)


def parse_import(body: bytes, content_type: str) -> ParsedImport:
    out = ParsedImport()
    text = body.decode("utf-8-sig")
    if "csv" in content_type:
        reader = csv.DictReader(io.StringIO(text))
        missing = {"sku", "location", "on_hand"} - set(reader.fieldnames or [])
        if missing:
            out.errors.append(f"header row lacks {sorted(missing)}")
            return out
        for n, rec in enumerate(reader, start=2):
            try:
                out.rows.append(_row(n, rec["sku"], rec["location"], rec["on_hand"]))
            except (ValueError, TypeError) as exc:
                out.errors.append(f"line {n}: {exc}")
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
            out.rows.append(_row(n, doc.get("sku"), doc.get("location"), doc.get("on_hand")))
        except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
            out.errors.append(f"line {n}: {exc}")
    return out
