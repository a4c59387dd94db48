"""After a Redis Cluster failover, inventory-adjuster looks for what it lost (ADR 0029).

A background task polls the cluster's configuration epoch (``CLUSTER INFO``,
``cluster_current_epoch``; a promoted replica takes a new one). The epoch may have grown since
its last poll, or this may be its first poll since the adjuster started. Then, once every slot
is served, it runs the failover-loss detection (:func:`inventory_adjuster.rebuild.detect_lost`,
read only) over the whole store. The count goes to ``stocksync_inventory_skus_behind_redis``
and the SKUs to an error log line with the command that repairs them. It repairs nothing
itself: the per-SKU rebuild wants the adjuster stopped, because a command applied to a lost
SKU during the rebuild would be overwritten. It runs soon, because compaction of
``inventory.levels.v1`` can erase what the detection reads (ADR 0029). The epoch also grows on
other configuration changes (a reshard, a manual failover): the detection then runs for
nothing, and finds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from prometheus_client import Gauge
from redis.asyncio.cluster import RedisCluster

from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.rebuild import Detection, detect_lost
from stocksync_common.topics import INVENTORY_LEVELS
from stocksync_common.transport import KafkaSecurity

log = logging.getLogger(__name__)

SKUS_BEHIND = Gauge(
    "stocksync_inventory_skus_behind_redis",
    "SKUs whose Redis state is behind their levels records, as of the last check after a "
    "Redis Cluster failover (ADR 0029): repair with stocksync-inventory-rebuild --detect "
    "--repair, the adjuster stopped",
)
SHOWN = 50  # SKUs named in the log line


class FailoverWatch:
    def __init__(
        self,
        store: RedisInventory,
        bootstrap: str,
        *,
        interval_s: float,
        levels_topic: str = INVENTORY_LEVELS,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.interval_s = interval_s
        self.levels_topic = levels_topic
        self.security = security
        self._epoch: int | None = None  # the highest seen: nodes learn a new one by gossip
        self._stopping = asyncio.Event()

    async def check(self) -> Detection | None:
        """One poll; the detection's result when it ran, else None."""
        # a random node's view: a new epoch reaches every node by gossip
        info = await cast("RedisCluster", self.store.redis).cluster_info()
        if info.get("cluster_state") != "ok":
            return None  # a master lost and not yet replaced: look again once it is
        epoch = int(info["cluster_current_epoch"])
        if self._epoch is not None and epoch <= self._epoch:
            return None
        found = await detect_lost(
            self.store, self.bootstrap, levels_topic=self.levels_topic, security=self.security
        )
        self._epoch = max(epoch, self._epoch or 0)  # after it ran: an error looks again
        SKUS_BEHIND.set(len(found.lost))
        if found.lost:
            log.error(
                "Redis lost writes of SKUs (a failover): stop inventory-adjuster and run "
                "stocksync-inventory-rebuild --detect --repair",
                extra={"skus_behind": len(found.lost), "skus": found.lost[:SHOWN],
                       "reasons": dict(list(found.reasons.items())[:SHOWN]), "epoch": epoch},
            )  # fmt: skip
        else:
            log.info(
                "Redis Cluster configuration changed: no SKU behind its levels records",
                extra={"epoch": epoch, "checked": found.checked, "seconds": found.seconds},
            )
        return found

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the cluster or the broker settling: next poll
                log.warning("failover check failed; trying again", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)

    def stop(self) -> None:
        self._stopping.set()
