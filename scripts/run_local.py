"""The local run: start the simulators and six services, show an order flowing, stay up.

Called by ``scripts/up.sh`` after Kafka and Redis are up. ``--no-wait`` ends after the
scenario (used to check the run command itself).

While it stays up it supervises: a process that exits is reported at once (its exit code and
the end of its log) and started again after a back-off (1, 2, 4, 8, 16, 30 s); one that
exits more than ``MAX_RESTARTS`` times in ``RESTART_WINDOW_S`` stops the run with a message
saying which. SIGINT, SIGTERM and SIGHUP stop everything, at any point (also while starting
or during the scenario). What it says goes to stdout and to ``run.log`` beside the services'
logs; a stdout that went away (``| tee`` killed by the same Ctrl-C) no longer stops the
shutdown half way.

Ports: the services' and simulators' are shifted by ``STOCKSYNC_PORT_OFFSET`` (0); Kafka's
and Redis' are ``KAFKA_PORT`` and ``REDIS_PORT``, as up.sh started them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import prometheus_local
from prometheus_client.parser import text_string_to_metric_families

from stack import DEMO_ADMIN, DEMO_ENV, ROOT, SERVICES, Ports, Stack

T = TypeVar("T")
ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}
STORES = {
    "parent-store.myshopify.com": "gid://shopify/Location/1001",
    "child-eu.myshopify.com": "gid://shopify/Location/2001",
    "child-us.myshopify.com": "gid://shopify/Location/3001",
}
RUN = uuid.uuid4().hex[:4].upper()  # fresh SKUs each run: state persists between runs
TEE, MUG = f"DEMO-TEE-{RUN}", f"DEMO-MUG-{RUN}"
FLOW_METRICS = (
    ("webhook-receiver", "stocksync_webhooks_total"),
    ("order-consumer", "stocksync_orders_total"),
    ("inventory-adjuster", "stocksync_inventory_commands_total"),
    ("shopify-sync", "stocksync_shopify_quantities_pushed_total"),
    ("wms-connector", "stocksync_events_consumed_total"),
    ("notifier", "stocksync_alerts_total"),
)


RUN_LOG: list[Path] = []  # where say() also writes (set once the stack's log dir is known)
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
MAX_RESTARTS, RESTART_WINDOW_S = 5, 300.0


def say(msg: str) -> None:
    """To stdout while it is there, and to the run log."""
    for path in RUN_LOG:
        with path.open("a") as log:
            log.write(msg + "\n")
    try:
        sys.stdout.write(msg + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        # the reader went away (a pipe's tee killed by the same Ctrl-C): carry on quietly
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run


def ports_from_env() -> Ports:
    offset = int(os.environ.get("STOCKSYNC_PORT_OFFSET", "0"))
    kafka = int(os.environ.get("KAFKA_PORT", "9092"))
    redis = int(os.environ.get("REDIS_PORT", "6379"))
    return replace(Ports().shifted(offset), kafka=kafka, redis=redis)


class Interrupted(Exception):  # noqa: N818 - a request to stop, not a failure
    """A stop signal arrived while the run was starting or showing its scenario."""


@dataclass
class Supervisor:
    """Restarts what exits, with a back-off; gives up on a process that keeps exiting."""

    stack: Stack
    clock: Callable[[], float] = time.monotonic
    due: dict[str, float] = field(default_factory=dict)  # name -> when to start it again
    exits: dict[str, list[float]] = field(default_factory=dict)

    def check(self) -> str | None:
        """Look once; the reason to stop the run, if one process keeps failing."""
        now = self.clock()
        for name, proc in list(self.stack.procs.items()):
            code = proc.poll()  # also reaps it: no <defunct> left behind
            if code is None or name in self.due:
                continue
            recent = [t for t in self.exits.get(name, []) if now - t < RESTART_WINDOW_S]
            recent.append(now)
            self.exits[name] = recent
            tail = self.stack.tail(name, lines=5)
            say(f"!! {name} exited with code {code}; last lines of its log:\n{tail}")
            if len(recent) > MAX_RESTARTS:
                return (
                    f"{name} exited {len(recent)} times in {RESTART_WINDOW_S:.0f} s; "
                    f"stopping (its log: {self.stack.log_dir / (name + '.log')})"
                )
            delay = BACKOFF_S[min(len(recent), len(BACKOFF_S)) - 1]
            say(f"!! restarting {name} in {delay:g} s (exit {len(recent)} in the last 5 min)")
            self.due[name] = now + delay
        for name, at in list(self.due.items()):
            if now >= at:
                del self.due[name]
                self.stack.start_one(name)
                say(f"!! {name} restarted (pid {self.stack.procs[name].pid})")
        return None


def poll(what: str, fn: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Demo:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=5.0)

    def get(self, service: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.stack.url(service) + path, **kw)

    def post(self, service: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(self.stack.url(service) + path, **kw)

    def truth(self, sku: str) -> int | None:
        r = self.get("inventory-adjuster", f"/inventory/{sku}")
        return int(r.json()["available"]) if r.status_code == 200 else None

    def store_levels(self, sku: str) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for shop, gid in STORES.items():
            inv = self.get("shopify-sim", f"/_sim/stores/{shop}/inventory").json()
            out[shop] = (inv.get(sku) or {}).get(gid)
        return out

    def stores_equal(self, sku: str, value: int) -> dict[str, int | None] | None:
        levels = self.store_levels(sku)
        return levels if all(v == value for v in levels.values()) else None

    def stores_shared(self, sku: str, total: int) -> dict[str, int | None] | None:
        """Channel allocation: the stores show disjoint shares of ``total``, in full."""
        levels = self.store_levels(sku)
        return levels if sum(v or 0 for v in levels.values()) == total else None

    def run(self) -> None:
        say("\n== 1. Stores list two SKUs; the warehouse count is imported through Kafka")
        for shop, gid in STORES.items():
            body = [{"sku": s, "quantities": {gid: 0}} for s in (TEE, MUG)]
            self.post("shopify-sim", f"/_sim/stores/{shop}/products", json=body).raise_for_status()
        csv = f"sku,location,on_hand\n{TEE},wh-1,20\n{MUG},wh-1,1\n"
        r = self.post(
            "inventory-adjuster",
            "/inventory/import",
            content=csv,
            headers={**ADMIN, "Content-Type": "text/csv"},
        )
        r.raise_for_status()
        say(f"   import job {r.json()['job_id']} accepted (202)")
        poll("truth after import", lambda: self.truth(MUG) == 1 and self.truth(TEE) == 20 or None)
        say(f"   inventory-adjuster truth: {TEE}={self.truth(TEE)} {MUG}={self.truth(MUG)}")
        levels = poll("stores to show the import", lambda: self.stores_equal(TEE, 20))
        say(f"   shopify-sync pushed {TEE} to every store: {levels}")
        levels = poll("stores to show the import", lambda: self.stores_shared(MUG, 1))
        say(f"   one {MUG} for three stores: channel allocation shows it in one: {levels}")
        seller = next(shop for shop, n in levels.items() if n)

        say(f"\n== 2. A customer orders 2 tees and the mug in {seller} (signed orders/create)")
        order = {"line_items": [{"sku": TEE, "quantity": 2}, {"sku": MUG, "quantity": 1}]}
        r = self.post("shopify-sim", f"/_sim/stores/{seller}/orders", json=order)
        r.raise_for_status()
        sent = r.json()
        wid = sent["webhook"]["id"]
        say(f"   simulator sent webhook {wid} for order {sent['order']['id']}")
        poll("the reservation", lambda: self.truth(TEE) == 18 or None)
        tee, mug = self.truth(TEE), self.truth(MUG)
        say(f"   order-consumer -> inventory-adjuster: {TEE}={tee} {MUG}={mug}")
        path = f"/inventory/{TEE}/ledger"
        ledger = self.get("inventory-adjuster", path, headers=ADMIN).json()["entries"]
        say(f"   ledger of {TEE}: " + ", ".join(f"{e['command']} {e['quantity']}" for e in ledger))
        levels = poll("stores to follow", lambda: self.stores_equal(TEE, 18))
        say(f"   shopify-sync -> stores: {TEE} {levels}")
        levels = poll("mug to reach zero", lambda: self.stores_equal(MUG, 0))
        say(f"   shopify-sync -> stores: {MUG} {levels}")

        say("\n== 3. Shopify delivers the same webhook again")
        self.post(
            "shopify-sim", f"/_sim/stores/{seller}/webhooks/{wid}/redeliver"
        ).raise_for_status()
        time.sleep(1.0)  # demo pacing only: give a wrong double-apply the chance to show
        tee = self.truth(TEE)
        say(f"   truth unchanged: {TEE}={tee} (a duplicate is acknowledged, not applied)")

        say("\n== 4. notifier: the mug crossed zero")
        msgs = poll("an alert", lambda: self.get("sink", "/_sink/messages").json() or None)
        for m in msgs:
            say(f"   alert to {m.get('path')}: {(m.get('json') or {}).get('text')}")

        say("\n== 5. The warehouse receives 5 mugs (signed WMS receipt)")
        receipt = {
            "event_type": "receipt",
            "lines": [{"sku": MUG, "quantity": 5, "location": "wh-1"}],
        }
        self.post("wms-sim", "/_sim/events", json=receipt).raise_for_status()
        poll("the receipt", lambda: self.truth(MUG) == 5 or None)
        levels = poll("stores to show the receipt", lambda: self.stores_shared(MUG, 5))
        say(f"   wms-connector -> inventory-adjuster: {MUG}={self.truth(MUG)}")
        say(f"   still low for three stores: shares, the most where it sold: {levels}")
        reqs = self.get("shopify-sim", "/_sim/requests").json()
        mutations = [q for q in reqs if "inventorySetQuantities" in str(q.get("document", ""))]
        say(f"   Shopify simulator recorded {len(mutations)} inventorySetQuantities calls")

        say("\n== 6. What each service counted (from its /metrics)")
        for service, metric in FLOW_METRICS:
            say(f"   {service:20s} {metric} = {self.metric_total(service, metric):g}")

    def metric_total(self, service: str, name: str) -> float:
        text = self.get(service, "/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-wait", action="store_true", help="stop after the scenario")
    args = parser.parse_args()
    state = Path(os.environ.get("STOCKSYNC_STATE_DIR", ROOT / ".work" / "local"))
    stack = Stack(ports_from_env(), state / "run")
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    RUN_LOG.append(stack.log_dir / "run.log")
    stop = threading.Event()
    waiting = threading.Event()  # in the supervising loop: a signal only sets ``stop``

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        if not waiting.is_set():
            raise Interrupted(signal.Signals(signum).name)

    # set explicitly: a background job of a non-interactive shell starts with SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    status = 0
    try:
        say("creating topics")
        stack.create_topics()
        stack.start()
        stack.wait_healthy(90)
        stack.wait_healthy(60, path="/readyz", names=SERVICES)
        say("all processes healthy and ready; logs in " + str(stack.log_dir))
        monitoring = prometheus_local.command(stack)
        if monitoring is None:
            say("prometheus not installed (scripts/setup.sh installs it): no local charts")
        else:
            stack.start_one("prometheus", monitoring)
            stack.wait_healthy(60, path="/-/ready", names=("prometheus",))
            say(f"prometheus scraping every service: {stack.url('prometheus')}/targets")
        Demo(stack).run()
        say("\nScenario complete: the order flowed through every service.")
        say("\nURLs:")
        for name in SERVICES:
            say(f"   {name:20s} {stack.url(name)}  (/healthz /readyz /metrics)")
        for name in ("shopify-sim", "wms-sim", "sink"):
            say(f"   {name:20s} {stack.url(name)}  (/_sim/... /_sink/messages)")
        if "prometheus" in stack.procs:
            say(f"   {'prometheus':20s} {stack.url('prometheus')}  (/targets /alerts /graph)")
        say(f"   inventory read API   {stack.url('inventory-adjuster')}/inventory/{TEE}")
        user, password = DEMO_ADMIN
        say(f"   ops console          {stack.url('ops-console')}/login  ({user} / {password})")
        if not args.no_wait:
            say("\nRunning. Ctrl-C stops everything; a service that exits is restarted.")
            waiting.set()
            supervisor = Supervisor(stack)
            while not stop.wait(0.5):
                reason = supervisor.check()
                if reason is not None:
                    say(f"!! {reason}")
                    status = 1
                    break
    except (KeyboardInterrupt, Interrupted):
        pass
    finally:
        waiting.set()  # a second Ctrl-C must not interrupt the shutdown itself
        stack.stop()  # first: nothing below may keep the processes running
        say("stopped the services and simulators")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
