"""README.md's services table is written by scripts/generate_deploy.py (#21): a row per
service, its topics from what its code registers, its text from its ``pyproject.toml``'s
``[tool.stocksync.readme]``; a note on a topic it no longer touches, or a row without text,
stops the generator by name instead of printing a stale table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generate_deploy import Readme, Service, read_readme, read_services, services_table
from stocksync_common.topics import registered_services

ROOT = Path(__file__).resolve().parents[3]


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        if match := re.match(r"^\| `([a-z-]+)` \|", line):
            rows[match[1]] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def topics(cell: str) -> list[str]:
    return re.findall(r"`([a-z]+(?:\.[a-z]+)*\.v\d+)`", cell)


def test_a_row_per_service_in_the_order_of_their_ports_with_its_registered_topics() -> None:
    found = read_services()
    rows = readme_rows()
    assert list(rows) == [s.name for s in found]
    registry = registered_services()
    for s in found:
        _, port, does, consumes, produces = rows[s.name]
        assert port == str(s.port) and does == " ".join(s.readme.does.split())
        registered = registry[s.name]
        groups = [t for ts in registered.consumers.values() for t in ts]
        assert set(topics(consumes)) == {*groups, *registered.reads}, s.name
        assert set(topics(produces)) == set(registered.produces), s.name
    # what the code registers beyond what the hand-written table said
    assert "compliance.v1" in topics(rows["order-consumer"][3])
    assert "`inventory.levels.v1` (compacted)" in rows["inventory-adjuster"][4]


def service(readme: Readme) -> Service:
    return Service(
        name="price-watch", port=8087, version="0.1.0", uses_kafka=True, uses_redis=True,
        groups={}, facts={}, consumes=("inventory.changed.v1",), produces=(), readme=readme,
    )  # fmt: skip


def test_a_note_on_a_topic_it_does_not_touch_is_refused() -> None:
    readme = Readme("watches prices", consumes_notes=(("orders.v1", "shipped"),))
    with pytest.raises(SystemExit, match=r"price-watch: consumes-notes on \['orders.v1'\]"):
        services_table([service(readme)])
    with_note = Readme("watches prices", consumes_notes=(("inventory.changed.v1", "levels"),))
    row = services_table([service(with_note)])[-1]
    cells = "`inventory.changed.v1` (levels) | nothing"
    assert row == f"| `price-watch` | 8087 | watches prices | {cells} |"


def test_text_comes_from_the_table_else_the_description_else_an_error(tmp_path: Path) -> None:
    where = tmp_path / "pyproject.toml"
    table = {"project": {"description": "x"}, "tool": {"stocksync": {"readme": {"does": "a\n b"}}}}
    assert read_readme(table, where).does == "a b"
    assert read_readme({"project": {"description": "its summary"}}, where).does == "its summary"
    with pytest.raises(SystemExit, match="does = what it does"):
        read_readme({"project": {}}, where)
    with pytest.raises(SystemExit, match=r"unknown keys \['summary'\]"):
        read_readme({"project": {}, "tool": {"stocksync": {"readme": {"summary": "x"}}}}, where)
