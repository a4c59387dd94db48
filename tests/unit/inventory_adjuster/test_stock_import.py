from inventory_adjuster.stock_import import parse_import


def test_csv_import_with_errors_per_line():
    body = b"sku,location,on_hand\nA,wh-1,10\nB,wh-1,-3\n,wh-1,2\nC,wh-1,x\nD,wh-2,0\n"
    parsed = parse_import(body, "text/csv")
    assert [(r.sku, r.location, r.on_hand, r.line) for r in parsed.rows] == [
        ("A", "wh-1", 10, 2),
        ("D", "wh-2", 0, 6),
    ]
    assert len(parsed.errors) == 3
    assert parsed.errors[0].startswith("line 3")


def test_csv_without_header_is_refused():
    parsed = parse_import(b"A,wh-1,10\n", "text/csv")
    assert parsed.rows == [] and "header" in parsed.errors[0]


def test_json_lines_import():
    body = b'{"sku": "A", "location": "wh-1", "on_hand": 3}\n\n{"sku": "B"}\nnot json\n'
    parsed = parse_import(body, "application/x-ndjson")
    assert [(r.sku, r.on_hand) for r in parsed.rows] == [("A", 3)]
    assert len(parsed.errors) == 2
