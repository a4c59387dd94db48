"""The Shopify simulator as one process for every store, or one process per store.

One process serves every store's storefront, webhooks and Admin API (the tests and
``scripts/up.sh`` run it so). Under a heavy storefront load the benches may run one process
per store instead: each serves one store (its own stores file), and the stores file the
services read points each store's ``admin_base_url`` at its own process. The bench then
sends each sale to the process of its store and reads the books of every process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.report import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from stack import DEMO_ENV, EXAMPLE_STORES  # noqa: E402


class Sims(str):
    """Where the benches reach the Shopify simulator: its base URL, and with one process per
    store the URL of each store's process (``by_shop``).

    A ``str`` (the first process's URL) so that it passes through code written for one
    simulator (``bench.prepare.load_catalog``); ``bench.load`` sends each store's calls to
    its own process and reads the books of every process through ``url_of`` and ``urls``.
    """

    by_shop: dict[str, str]

    def __new__(cls, url: str, by_shop: dict[str, str] | None = None) -> Sims:
        self = super().__new__(cls, url)
        self.by_shop = {shop.lower(): u for shop, u in (by_shop or {}).items()}
        return self

    @classmethod
    def of(cls, sim: str) -> Sims:
        """``sim`` itself, or a plain URL as one process serving every store."""
        return sim if isinstance(sim, Sims) else cls(sim)

    def url_of(self, shop: str) -> str:
        return self.by_shop.get(shop.lower(), str(self))

    def urls(self) -> list[str]:
        """Every process, each once."""
        return list(dict.fromkeys(self.by_shop.values())) or [str(self)]

    def by_process(self, sales: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
        """Each process's share of ``sales``, in their order."""
        out: dict[str, list[dict[str, Any]]] = {}
        for sale in sales:
            out.setdefault(self.url_of(sale["shop"]), []).append(sale)
        return list(out.items())


def sim_name(shop: str) -> str:
    """The process name of one store's simulator: ``shopify-sim-parent-store``."""
    return f"shopify-sim-{shop.split('.', 1)[0]}"


@dataclass
class SimFleet:
    state_dir: Path
    ports: dict[str, int]  # shop -> the port of the process serving it
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Shopify plan per store (its API rate limit), over the stores file's
    plans: dict[str, str] = field(default_factory=dict)

    @classmethod
    def plan(
        cls, state_dir: Path, base_port: int, processes: int, plans: Sequence[str] = ()
    ) -> SimFleet:
        """``processes`` 1: every store on ``base_port``; 3: one port per store from there.
        ``plans``: each store's Shopify plan, in the stores file's order (empty: the file's)."""
        shops = [s["shop"] for s in yaml.safe_load(EXAMPLE_STORES.read_text())["stores"]]
        if plans and len(plans) != len(shops):
            raise ValueError(f"{len(plans)} plans for {len(shops)} stores")
        step = 1 if processes > 1 else 0
        ports = {shop: base_port + i * step for i, shop in enumerate(shops)}
        return cls(state_dir, ports, plans=dict(zip(shops, plans, strict=False)))

    @property
    def per_store(self) -> bool:
        return len(set(self.ports.values())) > 1

    def url_of(self, shop: str) -> str:
        return f"http://127.0.0.1:{self.ports[shop.lower()]}"

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in sorted(set(self.ports.values()))]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def env(self) -> dict[str, str]:
        return {**{k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")},
                **DEMO_ENV}  # fmt: skip

    def split(self, sales: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
        """Each process's share of ``sales``, in their order."""
        return self.sims().by_process(sales)

    def sims(self) -> Sims:
        return Sims(self.urls()[0], {shop: self.url_of(shop) for shop in self.ports})

    def stores_doc(self, shops: list[str] | None = None) -> dict[str, Any]:
        """The example stores file with each store's ``admin_base_url`` at its process
        (only ``shops`` when given: a per-store process's own file)."""
        doc: dict[str, Any] = yaml.safe_load(EXAMPLE_STORES.read_text())
        stores = [s for s in doc["stores"] if shops is None or s["shop"] in shops]
        for store in stores:
            store["admin_base_url"] = self.url_of(store["shop"])
            store["plan"] = self.plans.get(store["shop"], store.get("plan", "standard"))
        doc["stores"] = stores
        return doc

    def groups(self) -> Iterator[tuple[str, int, list[str]]]:
        """(process name, port, shops) per process."""
        if not self.per_store:
            yield "shopify-sim", next(iter(self.ports.values())), list(self.ports)
            return
        for shop, port in self.ports.items():
            yield sim_name(shop), port, [shop]

    async def wait_healthy(
        self, http: httpx.AsyncClient, also: list[str] | None = None, timeout_s: float = 60
    ) -> None:
        deadline = time.monotonic() + timeout_s
        pending = [*self.urls(), *(also or [])]
        while pending:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}")
            try:
                if (await http.get(f"{pending[0]}/healthz")).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout_s} s: {pending}")
            await asyncio.sleep(0.2)


def fleet_commands(
    fleet: SimFleet, webhook_url: str | None, extra: list[str] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """(name, argv) of each simulator process; writes each one's stores file."""
    fleet.state_dir.mkdir(parents=True, exist_ok=True)
    for name, port, shops in fleet.groups():
        stores = fleet.state_dir / f"{name}.stores.yaml"
        doc = fleet.stores_doc(None if not fleet.per_store else shops)
        stores.write_text(yaml.safe_dump(doc, sort_keys=False))
        cmd = [sys.executable, "-m", "stocksync_sim.shopify", "--host", "127.0.0.1",
               "--port", str(port), "--stores-file", str(stores)]  # fmt: skip
        if webhook_url:
            cmd += ["--webhook-url", webhook_url]
        yield name, [*cmd, *(extra or [])]
