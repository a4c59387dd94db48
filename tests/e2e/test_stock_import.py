"""Stock imports as a merchant sends them (#25): the format told by content when no content
type says it, a dry run, all or nothing by default (or partial on request), every problem per
line in words, and a job that says when the rows are applied in truth, not only sent."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from e2e.test_happy_path import ADMIN

from stack import Stack
from support.poll import wait_for

pytestmark = pytest.mark.e2e


def truth(http: httpx.Client, stack: Stack, sku: str) -> int | None:
    r = http.get(f"{stack.url('inventory-adjuster')}/inventory/{sku}")
    return int(r.json()["locations"]["wh-1"]["on_hand"]) if r.status_code == 200 else None


def post(http: httpx.Client, stack: Stack, body: bytes, **params: str) -> httpx.Response:
    url = f"{stack.url('inventory-adjuster')}/inventory/import"
    return http.post(url, content=body, headers=ADMIN, params=params)  # no Content-Type


def job(http: httpx.Client, stack: Stack, job_id: str) -> dict[str, Any]:
    r = http.get(f"{stack.url('inventory-adjuster')}/jobs/{job_id}", headers=ADMIN)
    r.raise_for_status()
    doc: dict[str, Any] = r.json()
    return doc


def test_a_csv_without_a_content_type_is_applied_and_the_job_says_so(
    stack: Stack, http: httpx.Client
) -> None:
    a, b = f"IMP-{uuid.uuid4().hex[:8]}", f"IMP-{uuid.uuid4().hex[:8]}"
    r = post(http, stack, f"sku,location,on_hand\n{a},wh-1,7\n{b},wh-1,0\n".encode())
    assert r.status_code == 202, r.text
    assert r.json()["format"] == "csv" and r.json()["rows"] == 2
    done = wait_for(
        "the job applied",
        lambda: (d := job(http, stack, r.json()["job_id"]))["status"] == "applied" and d or None,
        60,
    )
    assert done["applied"] == done["published"] == 2
    assert truth(http, stack, a) == 7 and truth(http, stack, b) == 0


def test_a_file_with_a_bad_row_is_refused_whole_with_every_problem_in_words(
    stack: Stack, http: httpx.Client
) -> None:
    good = f"IMP-{uuid.uuid4().hex[:8]}"
    body = f"sku,location,on_hand\n{good},wh-1,5\nX,wh-1,lots\n,wh-1,2\n{good},wh-1,6\n"
    checked = post(http, stack, body.encode(), dry_run="true")
    assert checked.status_code == 200 and checked.json()["dry_run"] is True
    r = post(http, stack, body.encode())
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "nothing was sent" in detail["message"] and detail["error_count"] == 3
    assert detail["errors"] == [
        "line 3: on_hand 'lots' is not a whole number",
        "line 4: sku is empty",
        f"line 5: {good} at wh-1 is counted on line 2 already",
    ]
    assert checked.json()["errors"] == detail["errors"]
    partial = post(http, stack, body.encode(), partial="true")
    assert partial.status_code == 202
    done = wait_for(
        "the good row applied",
        lambda: (
            (d := job(http, stack, partial.json()["job_id"]))["status"] == "applied" and d or None
        ),
        60,
    )
    assert done["applied"] == 1 and done["error_list"] == detail["errors"]
    assert truth(http, stack, good) == 5  # sent only once asked for (partial)


def test_json_lines_are_told_by_their_content(stack: Stack, http: httpx.Client) -> None:
    sku = f"IMP-{uuid.uuid4().hex[:8]}"
    r = post(http, stack, f'{{"sku": "{sku}", "location": "wh-1", "on_hand": 4}}\n'.encode())
    assert r.status_code == 202 and r.json()["format"] == "jsonl"
    wait_for("the row applied", lambda: truth(http, stack, sku) == 4 or None, 60)
