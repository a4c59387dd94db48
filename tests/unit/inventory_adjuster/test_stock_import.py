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


def test_the_format_is_the_content_types_or_the_contents() -> None:
    from inventory_adjuster.stock_import import format_of

    assert format_of(b'{"sku": "A"}', "text/csv") == "csv"
    assert format_of(b"sku,location,on_hand", "application/json") == "jsonl"
    assert format_of(b'\n  {"sku": "A"}\n', "") == "jsonl"
    assert format_of(b"sku,location,on_hand\nA,wh-1,1\n", "") == "csv"
    assert format_of(b"sku,location,on_hand\n", "application/octet-stream") == "csv"


def test_problems_are_said_in_words_and_a_place_counted_twice_is_one() -> None:
    body = b"sku,location,on_hand\nA,wh-1,lots\nB,,1\nC,wh-1,-2\nD,wh-1,\nE,wh-1,1\nE,wh-1,2\n"
    parsed = parse_import(body, "")
    assert parsed.errors == [
        "line 2: on_hand 'lots' is not a whole number",
        "line 3: location is empty",
        "line 4: on_hand -2 is below 0",
        "line 5: on_hand is empty",
        "line 7: E at wh-1 is counted on line 6 already",
    ]
    assert [(r.sku, r.on_hand) for r in parsed.rows] == [("E", 1)]
    assert "invalid literal" not in " ".join(parsed.errors)
    jsonl = parse_import(
        b'[1]\n{"sku": "A", "location": "w", "on_hand": true}\n', "application/jsonl"
    )
    assert jsonl.errors == [
        "line 1: not a JSON object with sku, location and on_hand",
        "line 2: on_hand True is not a whole number",
    ]
    assert "not UTF-8" in parse_import(b"\xff\xfe", "").errors[0]
