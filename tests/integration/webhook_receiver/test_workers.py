"""webhook-receiver as its container runs it (``python -m webhook_receiver``) with two
worker processes: deliveries served by either worker are summed on /metrics, and the
per-start metrics directory is gone after shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from integration.webhook_receiver.edge import write_stores
from unit.webhook_receiver.harness import order_body, shopify_headers

from support.poll import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
SECRET = "workers-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def receiver_process(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str
) -> Iterator[tuple[str, str, Path]]:
    """The receiver with two workers; yields its URL, its shop and its TMPDIR."""
    shop = write_stores(tmp_path / "stores.yaml", SECRET)
    port = free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(
        {
            "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "STOCKSYNC_REDIS_URL": redis_url,
            "STOCKSYNC_STORES_FILE": str(tmp_path / "stores.yaml"),
            "STOCKSYNC_HTTP_PORT": str(port),
            "STOCKSYNC_WORKERS": "2",
            "TMPDIR": str(tmp),
        }
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "receiver.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhook_receiver"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "receiver.log").read_text()[-3000:]
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("receiver ready", ready, timeout_s=60)
        yield url, shop, tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


@pytest.fixture
def receiver(tmp_path, kafka_bootstrap, redis_url, topics) -> Iterator[tuple[str, str, Path]]:
    with receiver_process(tmp_path, kafka_bootstrap, redis_url) as running:
        yield running


def metric(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_two_workers_share_one_metrics_view(receiver):
    url, shop, tmp = receiver
    (metrics_dir,) = list(tmp.glob("stocksync-webhook-receiver-metrics-*"))
    accepted = 'stocksync_webhooks_total{outcome="accepted",source="shopify"}'
    before = metric(httpx.get(f"{url}/metrics").text, accepted)
    n = 40
    for _ in range(n):  # a new connection each time, so both workers take some
        body = order_body()
        headers = shopify_headers(
            body, "orders/create", webhook_id=str(uuid.uuid4()), shop=shop, secret=SECRET.encode()
        )
        r = httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
    pids = {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, "both workers write their values"
    for _ in range(10):  # whichever worker answers, the sum is the same
        text = httpx.get(f"{url}/metrics").text
        assert metric(text, accepted) == before + n
    assert 'stocksync_webhook_ack_seconds_count{source="shopify"}' in text


def test_metrics_dir_is_removed_after_shutdown(tmp_path, kafka_bootstrap, redis_url, topics):
    with receiver_process(tmp_path, kafka_bootstrap, redis_url) as (_url, _shop, tmp):
        assert list(tmp.glob("stocksync-webhook-receiver-metrics-*"))
    assert list(tmp.glob("stocksync-webhook-receiver-metrics-*")) == []
