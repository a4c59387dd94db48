"""One fault run: seed fresh SKUs, send the workload from a thread, inject the fault
mid-stream, heal, wait for quiescence, then check the oracle and record the figures."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from faults.kafka_view import dlq_records, lag
from faults.workload import GIDS, INITIAL, Delivery, Workload
from stack import DEMO_ENV, Stack

ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}


@dataclass
class Sender:
    """Posts the deliveries in order, retrying each like Shopify does until it gets a 200."""

    stack: Stack
    workload: Workload
    pace_s: float = 0.05
    give_up_s: float = 120.0
    accepted: list[Delivery] = field(default_factory=list)
    refused: list[tuple[Delivery, str]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    # When (time.monotonic()) each attempt was refused with a 5xx or failed, with why, and
    # when each delivery was accepted: the outage as the sender saw it (tests/cluster).
    failures: list[tuple[float, str]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    wms_open: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    # Stop once this many were sent (None: the whole workload); the model counts only what
    # was accepted, so a stream longer than a fault can end a little after it.
    until: int | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.wms_open.set()
        self.thread = threading.Thread(target=self.run, name="fault-sender", daemon=True)
        self.thread.start()

    def join(self, timeout_s: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout_s)
            if self.thread.is_alive():
                raise TimeoutError(f"sender still running after {timeout_s}s")

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            for d in self.workload.deliveries:
                if self.until is not None and self.sent >= self.until:
                    break
                ok, why = self.send_wms(http, d) if d.kind == "wms" else self.send(http, d)
                if ok:
                    self.accepted.append(d)
                    self.accepted_at.append(time.monotonic())
                else:
                    self.refused.append((d, why))
                self.sent += 1
                time.sleep(self.pace_s)  # pacing the workload, not synchronisation

    def send(self, http: httpx.Client, d: Delivery) -> tuple[bool, str]:
        url = f"{self.stack.url('webhook-receiver')}/webhooks/shopify"
        deadline, backoff, why = time.monotonic() + self.give_up_s, 0.2, ""
        while time.monotonic() < deadline:
            self.attempts["shopify"] += 1
            try:
                r = http.post(url, content=d.body, headers=d.headers())
            except httpx.HTTPError as exc:
                why = type(exc).__name__
            else:
                if r.status_code == 200:
                    return True, ""
                if r.status_code < 500:
                    return False, f"{r.status_code} {r.text[:200]}"
                why = str(r.status_code)
            self.failures.append((time.monotonic(), why))
            self.attempts["retries"] += 1
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        return False, f"gave up: {why}"

    def send_wms(self, http: httpx.Client, d: Delivery) -> tuple[bool, str]:
        if d.receipt is None:
            return False, "not a receipt"
        self.wms_open.wait(60)
        sku, qty = d.receipt
        body = {"event_type": "receipt", "lines": [{"sku": sku, "quantity": qty}]}
        try:
            r = http.post(f"{self.stack.url('wms-sim')}/_sim/events", json=body)
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
        return r.status_code == 201, r.text[:200]


def redeliver_failed_wms(http: httpx.Client, stack: Stack, timeout_s: float = 60.0) -> int:
    """The WMS simulator gives up after a few seconds of retries; a real WMS keeps trying
    for hours. Redeliver what it gave up on until each receipt was answered 2xx."""
    url, count = f"{stack.url('wms-sim')}/_sim/events", 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        undelivered = [e for e in http.get(url).json() if e.get("status") != "delivered"]
        failed = [e for e in undelivered if e.get("status") == "failed"]
        if not undelivered:
            return count
        for event in failed:
            http.post(f"{url}/{event['id']}/redeliver", params={"wait": "true"})
            count += 1
        time.sleep(0.5)
    raise TimeoutError(f"WMS receipts still undelivered after {timeout_s}s")


def run_rebuild(stack: Stack, redis_url: str, *args: str) -> dict[str, Any]:
    """``stocksync-inventory-rebuild`` with ``args`` against ``redis_url`` and the stack's
    broker: its exit code, its JSON report (when it succeeded) and the end of its stderr."""
    cli = Path(sys.executable).with_name("stocksync-inventory-rebuild")
    argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "inventory_adjuster.rebuild"]
    argv += ["--redis-url", redis_url, *args]
    proc = subprocess.run(  # noqa: S603 - our own console script, fixed argv
        argv, env=stack.base_env(), capture_output=True, text=True, timeout=300, check=False
    )
    report = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else {}
    return {"rc": proc.returncode, "report": report, "stderr": proc.stderr}


def seed(http: httpx.Client, stack: Stack, skus: list[str]) -> None:
    sim = stack.url("shopify-sim")
    for shop, gid in GIDS.items():
        body = [{"sku": sku, "quantities": {gid: 0}} for sku in skus]
        http.post(f"{sim}/_sim/stores/{shop}/products", json=body).raise_for_status()
    csv = "sku,location,on_hand\n" + "".join(f"{s},wh-1,{INITIAL}\n" for s in skus)
    r = http.post(
        f"{stack.url('inventory-adjuster')}/inventory/import",
        content=csv,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    if r.status_code != 202:
        raise RuntimeError(f"import refused: {r.status_code} {r.text}")
    want = dict.fromkeys(skus, INITIAL)
    poll("seeded", lambda: truth(http, stack, skus) == want and stores_match(http, stack, want), 60)


def progress(s: Sender, share: float) -> Callable[[], bool]:
    """True once ``share`` of the workload was sent (or the sender stopped)."""
    target = int(len(s.workload.deliveries) * share)
    return lambda: s.sent >= target or s.thread is None or not s.thread.is_alive()


def poll(what: str, fn: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``fn`` held; fails at the deadline."""
    t0 = time.monotonic()
    while not fn():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.25)
    return time.monotonic() - t0


def truth(http: httpx.Client, stack: Stack, skus: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for sku in skus:
        try:
            r = http.get(f"{stack.url('inventory-adjuster')}/inventory/{sku}")
        except httpx.HTTPError:
            out[sku] = None
            continue
        out[sku] = int(r.json()["available"]) if r.status_code == 200 else None
    return out


def store_levels(http: httpx.Client, stack: Stack, skus: list[str]) -> dict[str, dict[str, Any]]:
    sim = stack.url("shopify-sim")
    out: dict[str, dict[str, Any]] = {}
    for shop, gid in GIDS.items():
        inv = http.get(f"{sim}/_sim/stores/{shop}/inventory").json()
        out[shop] = {sku: (inv.get(sku) or {}).get(gid) for sku in skus}
    return out


def stores_match(http: httpx.Client, stack: Stack, want: dict[str, int]) -> bool:
    try:
        levels = store_levels(http, stack, list(want))
    except httpx.HTTPError:
        return False
    return all(levels[shop] == want for shop in GIDS)


def ledgers(http: httpx.Client, stack: Stack, skus: list[str]) -> list[dict[str, str]]:
    url = stack.url("inventory-adjuster")
    params = {"limit": 1000}  # the whole ledger of a SKU (it keeps at most that many)
    return [
        e
        for sku in skus
        for e in http.get(f"{url}/inventory/{sku}/ledger", headers=ADMIN, params=params).json()[
            "entries"
        ]
    ]


@dataclass
class Outcome:
    fault: str
    events_in: int
    accepted: int
    applied: int
    in_dlq: int
    lost: int
    double_applied: int
    recover_s: float
    fired: dict[str, Any]
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Quiet:
    """Quiescence: truth and every store equal the model, and no consumer group lags."""

    http: httpx.Client
    stack: Stack
    bootstrap: str
    want: dict[str, int]
    last: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> bool:
        got = truth(self.http, self.stack, list(self.want))
        self.last = {"truth": got}
        if got != self.want:
            return False
        if not stores_match(self.http, self.stack, self.want):
            try:
                self.last["stores"] = store_levels(self.http, self.stack, list(self.want))
            except httpx.HTTPError as exc:
                self.last["stores"] = repr(exc)
            return False
        try:
            lags = lag(self.bootstrap)
        except Exception as exc:  # noqa: BLE001 - the broker may still be coming back
            self.last["lag"] = repr(exc)
            return False
        self.last["lag"] = {g: n for g, n in lags.items() if n}
        return not self.last["lag"]


def judge(
    fault: str,
    http: httpx.Client,
    stack: Stack,
    bootstrap: str,
    sender: Sender,
    healed_at: float,
    fired: dict[str, Any],
    dlq_before: int,
    quiesce_s: float,
) -> Outcome:
    """Wait for quiescence, then compare everything with the model."""
    wl = sender.workload
    want = wl.expected(sender.accepted)
    quiet = Quiet(http, stack, bootstrap, want)
    try:
        poll("quiescence", quiet, quiesce_s)
        quiesced = True
    except AssertionError:
        quiesced = False  # the checks below say what is wrong
    recover_s = time.monotonic() - healed_at
    got = truth(http, stack, wl.skus)
    entries = ledgers(http, stack, wl.skus)
    keys = Counter(e["key"] for e in entries if e.get("status", "applied") == "applied")
    doubles = {k: n for k, n in keys.items() if n > 1}
    held: Counter[int] = Counter()
    for e in entries:
        oid = order_of(e["key"])
        if oid is not None:
            held[oid] += int(e.get("d_reserved", "0"))
    expect_held = wl.held(sender.accepted)
    wrong = {oid: (held[oid], n) for oid, n in expect_held.items() if held[oid] != n}
    dlq = dlq_records(bootstrap)
    new_dlq = dlq[dlq_before:]
    texts = [dlq_text(r["doc"]) for r in new_dlq if r["doc"].get("reason") or r["doc"].get("error")]
    dlq_orders = {oid for oid in wrong if any(str(oid) in t for t in texts)}
    lost_orders = set(wrong) - dlq_orders
    lost_units = {s: (got[s], want[s]) for s in wl.skus if got[s] != want[s]}
    applied = sum(1 for oid in expect_held if oid not in wrong)
    return Outcome(
        fault=fault,
        events_in=sender.sent,  # the whole workload, unless the sender was stopped early
        accepted=len(sender.accepted),
        applied=applied,
        in_dlq=len(dlq_orders),
        lost=len(lost_orders),
        double_applied=sum(n - 1 for n in doubles.values()),
        recover_s=round(recover_s, 2),
        fired=fired,
        detail={
            "quiesced": quiesced,
            "not_quiet": {} if quiesced else quiet.last,
            "orders": len(expect_held),
            "receipts": sum(1 for d in sender.accepted if d.receipt is not None),
            "refused": [(d.label, why) for d, why in sender.refused],
            "retries": sender.attempts["retries"],
            "truth_vs_model": lost_units,
            "wrong_orders": {str(k): v for k, v in wrong.items()},
            "doubles": doubles,
            "dlq_new": [r["topic"] for r in new_dlq],
            "stores": store_levels(http, stack, wl.skus) if lost_units else {},
        },
    )


def oracle_failures(outcome: Outcome, sender: Sender) -> list[str]:
    """What the oracle finds wrong (empty: the run passed): no quiescence, a delivery never
    accepted, an event applied twice or lost, truth different from the model."""
    detail = outcome.detail
    found = []
    if not detail["quiesced"]:
        found.append(f"no quiescence: {detail['not_quiet']}")
    if sender.refused:
        found.append(f"deliveries never accepted: {detail['refused']}")
    if outcome.double_applied:
        found.append(f"double-applied: {detail['doubles']}")
    if outcome.lost:
        found.append(f"lost {outcome.lost}: {detail['wrong_orders']}")
    if detail["truth_vs_model"]:
        found.append(f"truth differs from the model: {detail['truth_vs_model']}")
    return found


def dlq_text(doc: dict[str, Any]) -> str:
    """A DLQ record as searchable text, its original value decoded when it is base64."""
    raw = doc.get("value_b64")
    decoded = ""
    if isinstance(raw, str):
        try:
            decoded = base64.b64decode(raw).decode(errors="replace")
        except ValueError:
            decoded = ""
    return f"{doc}{decoded}"


def order_of(key: str) -> int | None:
    """The order id in ``shopify:{shop}:order:{id}:line:...`` keys."""
    parts = key.split(":")
    if "order" in parts and parts[0] == "shopify":
        try:
            return int(parts[parts.index("order") + 1])
        except (IndexError, ValueError):
            return None
    return None
