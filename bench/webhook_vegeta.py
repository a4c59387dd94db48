"""bench.webhook_ack's compiled load generator: vegeta (Go), open-loop at a fixed rate.

``scripts/tools/vegeta.sh`` installs it (``go install``, pinned, into ``.work/tools/bin``;
never committed). Every delivery is written out beforehand as one target: the signed body
(one of the bench's body files), the shop's signature and a new webhook id, so the
generator only sends. vegeta starts request i at its due time whatever happened before
(new workers as needed) over at most ``connections`` keep-alive connections, and measures
its latency from that start to the last byte of the answer, waiting for a connection
included (no coordinated omission). Its own CPU is measured (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import base64
import csv
import resource
import subprocess
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from stocksync_common.events import stable_id

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "tools" / "vegeta.sh"
REQUEST_TIMEOUT_S = 10
COMMON_HEADERS = (
    "Content-Type: application/json",
    "X-Shopify-Topic: orders/create",
    "X-Shopify-API-Version: 2026-07",
)


@dataclass
class Attack:
    latencies_ms: list[float] = field(default_factory=list)  # 200s only, from the start
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    acknowledged: list[tuple[int, str]] = field(default_factory=list)  # (body index, webhook id)
    span_s: float = 0.0  # first request started -> last answer received
    cpu_s: float = 0.0  # the generator's user + system CPU


def install() -> Path | None:
    """vegeta's path, installing it first if needed; None (and why, on stderr) if it fails."""
    try:
        done = subprocess.run(
            [str(INSTALL)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"vegeta not installed ({exc}); falling back to the asyncio generator")
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        print(
            f"vegeta not installed:\n{done.stderr[-2000:]}\nfalling back to the asyncio generator"
        )
        return None
    return Path(lines[-1])


def write_bodies(work: Path, bodies: Sequence[bytes]) -> list[Path]:
    folder = work / "bodies"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, body in enumerate(bodies):
        path = folder / f"{i}.json"
        path.write_bytes(body)
        paths.append(path)
    return paths


def write_targets(
    path: Path,
    url: str,
    signed: Sequence[tuple[str, str, Path]],  # (shop, signature, body file)
    offset: int,
    total: int,
) -> dict[str, tuple[int, str]]:
    """One target per delivery; returns, by the event id an answer names, (index, webhook id)."""
    ids: dict[str, tuple[int, str]] = {}
    with path.open("w") as out:
        for n in range(total):
            i = offset + n
            shop, signature, body = signed[i % len(signed)]
            wid = str(uuid.uuid4())
            out.write(
                f"POST {url}/webhooks/shopify\nX-Shopify-Hmac-Sha256: {signature}\n"
                f"X-Shopify-Shop-Domain: {shop}\nX-Shopify-Webhook-Id: {wid}\n"
                f"X-Shopify-Event-Id: {uuid.uuid4()}\n@{body}\n\n"
            )
            # webhook-receiver names the stable event id; the ceiling names shop/webhook id
            ids[stable_id("shopify", shop, wid)] = ids[f"{shop}/{wid}"] = (i, wid)
    return ids


def attack(
    vegeta: Path,
    work: Path,
    url: str,
    signed: Sequence[tuple[str, str, Path]],
    rate: float,
    seconds: float,
    connections: int,
    offset: int,
) -> Attack:
    """Send ``rate * seconds`` deliveries at ``rate`` per second and read every answer."""
    total = max(1, int(rate * seconds))
    targets, results = work / "targets.http", work / "results.bin"
    ids = write_targets(targets, url, signed, offset, total)
    command = [
        str(vegeta),
        "attack",
        "-lazy",
        "-format=http",
        f"-targets={targets}",
        f"-rate={round(rate)}/1s",
        f"-duration={seconds}s",
        f"-max-connections={connections}",
        f"-connections={connections}",
        f"-timeout={REQUEST_TIMEOUT_S}s",
        "-http2=false",
        f"-output={results}",
    ]
    for header in (*COMMON_HEADERS, f"X-Shopify-Triggered-At: {datetime.now(UTC).isoformat()}"):
        command += ["-header", header]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, timeout=seconds + 3 * REQUEST_TIMEOUT_S + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = read_results(vegeta, results, ids)
    run.cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return run


def read_results(vegeta: Path, results: Path, ids: dict[str, tuple[int, str]]) -> Attack:
    encoded = subprocess.run(
        [str(vegeta), "encode", "--to", "csv", str(results)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    run = Attack()
    first, last = float("inf"), 0.0
    for row in csv.reader(encoded.stdout.splitlines()):
        started_ns, code, latency_ns, error, body = (
            int(row[0]),
            int(row[1]),
            int(row[2]),
            row[5],
            base64.b64decode(row[6]),
        )
        first, last = min(first, started_ns), max(last, started_ns + latency_ns)
        if code == 0:
            run.errors[
                "timeout" if "timeout" in error.lower() else error.rsplit(":", 1)[-1][:60]
            ] += 1
            continue
        label = str(code)
        if code == 200:
            doc = orjson.loads(body)
            label = doc.get("status", "200")
            run.latencies_ms.append(latency_ns / 1e6)
            if doc.get("event_id") in ids:
                run.acknowledged.append(ids[doc["event_id"]])
        run.statuses[label] += 1
    run.span_s = max(0.0, (last - first) / 1e9)
    return run
