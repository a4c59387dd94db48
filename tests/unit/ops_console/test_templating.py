"""The Jinja2 templates escape every value (autoescaping), keep markup the console built as
it is, print None as nothing, and draw tables exactly as the hand-built helper does."""

from __future__ import annotations

from ops_console import html
from ops_console.templating import environment, render


def test_a_table_from_the_template_is_the_hand_built_one_escaped_alike() -> None:
    headers = ["a", "<b>"]
    rows: list[list[object]] = [["<script>x</script>", None], [html.Safe("<em>kept</em>"), 3]]
    macro = environment().get_template("macros.html").module.table  # type: ignore[attr-defined]
    drawn = str(macro(headers, rows, "t", ["drift"]))
    assert drawn == html.table(headers, rows, "t", ["drift"])
    assert "&lt;script&gt;" in drawn and "<script>" not in drawn
    assert "<em>kept</em>" in drawn and "<td></td>" in drawn
    assert str(macro(["x"], [], "t")) == html.table(["x"], [], "t")


def test_a_page_body_escapes_what_the_services_said() -> None:
    body = render("mapping.html", sku="<i>", stores=[
        {"shop": "<b>s</b>", "mapped": "1", "last": "none yet", "rows": []},
    ])  # fmt: skip
    assert isinstance(body, html.Safe)
    assert "&lt;i&gt;" in body and "&lt;b&gt;s&lt;/b&gt;" in body and "<b>" not in body
