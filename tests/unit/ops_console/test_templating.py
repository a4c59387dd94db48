"""The Jinja2 templates escape every value (autoescaping), keep markup the console built as
it is, print None as nothing, and draw tables as the hand-built helper they replaced did."""

from __future__ import annotations

from markupsafe import Markup

from ops_console.templating import macro, render

# what the hand-built ``html.table`` drew for these rows (the helper is gone: issue #25)
HAND_BUILT = (
    '<table class="t"><thead><tr><th>a</th><th>&lt;b&gt;</th></tr></thead><tbody>'
    '<tr class="drift"><td>&lt;script&gt;x&lt;/script&gt;</td><td></td></tr>'
    "<tr><td><em>kept</em></td><td>3</td></tr></tbody></table>"
)
HAND_BUILT_EMPTY = (
    '<table class="t"><thead><tr><th>x</th></tr></thead><tbody>'
    '<tr><td colspan="1" class="empty">nothing here</td></tr></tbody></table>'
)


def test_a_table_from_the_template_is_the_hand_built_one_escaped_alike() -> None:
    headers = ["a", "<b>"]
    rows: list[list[object]] = [["<script>x</script>", None], [Markup("<em>kept</em>"), 3]]
    drawn = str(macro("table")(headers, rows, "t", ["drift"]))
    assert drawn == HAND_BUILT
    assert "&lt;script&gt;" in drawn and "<script>" not in drawn
    assert "<em>kept</em>" in drawn and "<td></td>" in drawn
    assert str(macro("table")(["x"], [], "t")) == HAND_BUILT_EMPTY


def test_a_page_body_escapes_what_the_services_said() -> None:
    body = render("mapping.html", sku="<i>", stores=[
        {"shop": "<b>s</b>", "mapped": "1", "last": "none yet", "rows": []},
    ])  # fmt: skip
    assert isinstance(body, Markup)
    assert "&lt;i&gt;" in body and "&lt;b&gt;s&lt;/b&gt;" in body and "<b>" not in body
