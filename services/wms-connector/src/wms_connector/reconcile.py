"""Reconciliation with the WMS: its full stock snapshot against truth, on a schedule.

Differences confirmed over ``confirm_runs`` runs are corrected with ``set_on_hand`` as of
the snapshot's time (so moves applied since are kept) under the ``correct`` policy, or only
reported under ``report``. The latest report is kept for the admin endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aiokafka import AIOKafkaProducer

from stocksync_common.events import InventoryCommand, InventoryCommandRequested, stable_id, utcnow
from stocksync_common.kafka import send_event
from stocksync_common.topics import INVENTORY_COMMANDS
from wms_connector.adapters.truth import HttpTruth
from wms_connector.adapters.wms_client import WmsClient
from wms_connector.domain.reconcile import Confirmations, Line, compare, to_correct
from wms_connector.metrics import WMS_CORRECTIONS, WMS_DRIFT

log = logging.getLogger(__name__)
Policy = Literal["correct", "report"]


@dataclass
class WmsReconciler:
    wms: WmsClient
    truth: HttpTruth
    producer: AIOKafkaProducer
    policy: Policy = "correct"
    confirm_runs: int = 2
    source: str = "wms-connector"
    last: dict[str, Any] | None = None
    confirmations: Confirmations = field(default_factory=lambda: Confirmations({}))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self) -> dict[str, Any]:
        """One comparison (runs never overlap); the report."""
        async with self._lock:
            snapshot = await self.wms.snapshot()
            raw = list(snapshot.get("lines") or [])
            places = [(str(r["sku"]), str(r["location"])) for r in raw]
            lines = compare(raw, await self.truth.levels(places))
            drifted = [ln for ln in lines if ln.delta != 0]
            counts = self.confirmations.observe(drifted)
            fixes = to_correct(lines, counts, self.confirm_runs) if self.policy == "correct" else []
            as_of = datetime.fromisoformat(str(snapshot["as_of"]).replace("Z", "+00:00"))
            await self._correct(str(snapshot.get("snapshot_id")), as_of, fixes)
            WMS_DRIFT.set(len(drifted))
            self.last = {
                "snapshot_id": snapshot.get("snapshot_id"),
                "as_of": snapshot.get("as_of"),
                "ran_at": utcnow().isoformat(),
                "policy": self.policy,
                "compared": len(lines),
                "in_flight_units": sum(ln.in_flight for ln in lines),
                "differences": [
                    {**ln.to_json(), "seen_runs": counts.get((ln.sku, ln.location), 0)}
                    for ln in drifted
                ],
                "corrected": [ln.to_json() for ln in fixes],
            }
            if drifted:
                log.warning(
                    "WMS and truth differ",
                    extra={"differences": len(drifted), "corrected": len(fixes)},
                )
            return self.last

    async def _correct(self, snapshot_id: str, as_of: datetime, fixes: list[Line]) -> None:
        futures = []
        for ln in fixes:
            cmd = InventoryCommand(
                command="set_on_hand",
                idempotency_key=f"wms-reconcile:{snapshot_id}:{ln.sku}:{ln.location}",
                sku=ln.sku,
                location=ln.location,
                quantity=max(0, ln.wms_on_hand),
                as_of=as_of,
                reason=f"wms reconcile: truth {ln.truth_on_hand}, wms {ln.wms_on_hand}",
            )
            out = InventoryCommandRequested(
                id=stable_id(cmd.idempotency_key), source=self.source, payload=cmd
            )
            futures.append(await send_event(self.producer, INVENTORY_COMMANDS, ln.sku, out))
        await asyncio.gather(*futures)
        WMS_CORRECTIONS.inc(len(fixes))

    async def schedule(self, interval_s: float) -> None:
        """Run every ``interval_s``; a failed run is logged and the next one tried."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.run()
            except Exception:  # noqa: BLE001 - a failed run must not stop the schedule
                log.warning("WMS reconciliation failed", exc_info=True)
