"""bench.webhook_ack's pieces that need no server: vegeta's targets, reading its results,
and the report's ratio and row."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import webhook_vegeta
from bench.webhook_ack import ratio, row
from stocksync_common.events import stable_id


def test_targets_have_a_new_webhook_id_each_and_name_their_body_file(tmp_path: Path) -> None:
    body = tmp_path / "0.json"
    body.write_bytes(b"{}")
    signed = [("a.myshopify.com", "c2ln", body), ("b.myshopify.com", "c2lo", body)]
    ids = webhook_vegeta.write_targets(tmp_path / "t.http", "http://h:1", signed, 10, 5)
    text = (tmp_path / "t.http").read_text()
    assert text.count("POST http://h:1/webhooks/shopify\n") == 5
    assert text.count(f"@{body}\n") == 5
    wids = {wid for _, wid in ids.values()}
    assert len(wids) == 5
    for event_id, (i, wid) in ids.items():
        shop = signed[i % 2][0]
        assert event_id in (stable_id("shopify", shop, wid), f"{shop}/{wid}")
        assert f"X-Shopify-Webhook-Id: {wid}\n" in text


def test_results_are_read_into_latencies_statuses_and_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {"e1": (0, "w1"), "e2": (1, "w2")}

    def row_of(start: int, code: int, latency: int, error: str, body: dict[str, Any]) -> str:
        b64 = base64.b64encode(orjson.dumps(body) if body else b"").decode()
        return f"{start},{code},{latency},0,0,{error},{b64},,0,POST,u,"

    csv = "\n".join(
        [
            row_of(1_000_000_000, 200, 2_000_000, "", {"status": "accepted", "event_id": "e1"}),
            row_of(1_001_000_000, 200, 3_000_000, "", {"status": "duplicate", "event_id": "e2"}),
            row_of(1_002_000_000, 503, 1_000_000, "", {"detail": "retry"}),
            row_of(1_003_000_000, 0, 10_000_000_000, "Post: context deadline (Client.Timeout)", {}),
        ]
    )

    def fake_run(*_args: Any, **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 0, stdout=csv, stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    run = webhook_vegeta.read_results(Path("vegeta"), tmp_path / "r.bin", ids)
    assert run.latencies_ms == [2.0, 3.0]
    assert run.statuses == {"accepted": 1, "duplicate": 1, "503": 1}
    assert run.errors == {"timeout": 1}
    assert run.acknowledged == [(0, "w1"), (1, "w2")]
    assert run.span_s == pytest.approx(10.003)  # first start to last answer


def phase(achieved: float, ms: float) -> dict[str, Any]:
    return {
        "rate": 2000.0,
        "measured": {
            "achieved_per_s": achieved,
            "latency_ms": {"p50": 1.0, "p99": 9.0, "max": 20.0},
            "statuses": {"accepted": 10},
            "errors": {},
        },
        "cpu": {
            "ms_per_delivery": ms,
            "receiver_pct": 90,
            "generator_pct": 10,
            "machine_pct": 150,
        },
    }


def test_ratio_and_row_set_the_receiver_against_the_ceiling() -> None:
    ours, ceiling = phase(1400.0, 0.6), phase(2000.0, 0.3)
    assert ratio(ours, ceiling) == {"achieved": 0.7, "cpu_per_delivery": 2.0}
    ours["ceiling"], ours["ratio"] = ceiling, ratio(ours, ceiling)
    line = row(ours)
    assert line.startswith("| 2,000/s | 1,400/s |")
    assert "0.6 ms" in line and "2,000/s, p99 9.0 ms, 0.3 ms" in line and "| 0.7 / 2.0 |" in line
    assert row(phase(1400.0, 0.6)).endswith("not run | - |")
