"""``stocksync-stores``: connect the configured Shopify stores to StockSync.

    stocksync-stores connect [--store DOMAIN] [--public-url URL] [--dry-run]
                             [--map INTERNAL=LOCATION ...] [--no-sync] [--json]

For each store (or the one given): the access token's granted scopes are checked against what
StockSync needs (a missing scope is named with the reason it is needed); the store's locations
are listed and the location mapping made or checked (written into the stores file, or printed
with ``--dry-run``); every webhook topic StockSync consumes is subscribed to
``<public url>/webhooks/shopify`` (kept, updated or removed as needed, so running it again
changes nothing); then the catalog discovery and first full sync of the connected stores run
as a ``first-sync`` job, its progress printed until it ends.

Settings come from the shopify-sync ``STOCKSYNC_`` variables (stores file, Redis, Kafka;
``STOCKSYNC_PUBLIC_URL`` for ``--public-url``). Exit codes: 0 every store connected (and
synced), 1 a store is not (the reason on its line), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
import yaml
from aiokafka.errors import KafkaError

from shopify_sync.adapters.lease import Lease
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.bootstrap import Container, build, connector, lanes_running
from shopify_sync.connector import StoreConnection
from shopify_sync.domain.connect import callback_url
from shopify_sync.lanes import Lanes
from shopify_sync.settings import Settings
from shopify_sync.stores_file import StoresFileError, snippet, write_locations
from stocksync_common.cli_output import print_rows
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed
from stocksync_common.settings import load
from stocksync_common.stores import ACCESS_TOKEN, BadStoresFile, StoresConfig, load_stores

PROG = "stocksync-stores"
COLUMNS = ["shop", "status", "mapping", "created", "updated", "removed", "kept", "error"]
# On a dry run the counts are what would be done; with --json each store's object has the
# topics themselves (created, updated, removed, kept, foreign) and "applied".


class UsageError(Exception):
    """Bad arguments or settings (exit 2)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Connect Shopify stores to StockSync.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("connect", help="scopes, locations, webhooks, then the first full sync")
    c.add_argument("--store", help="only this shop domain (default: every configured store)")
    c.add_argument("--public-url", help="https URL where Shopify reaches webhook-receiver")
    c.add_argument("--dry-run", action="store_true", help="check and print, change nothing")
    c.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="INTERNAL=LOCATION",
        help="internal location id = Shopify location gid or name (repeatable)",
    )
    c.add_argument("--no-sync", action="store_true", help="skip the first full sync")
    c.add_argument("--json", action="store_true", help="print JSON lines")
    return p  # fmt: skip


def explicit_map(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        internal, sep, location = pair.partition("=")
        if not sep or not internal.strip() or not location.strip():
            raise UsageError(f"--map takes INTERNAL=LOCATION, got {pair!r}")
        out[internal.strip()] = location.strip()
    return out


def _settings() -> Settings:
    settings = load(Settings)  # a bad value: each problem named, exit 2
    if not settings.stores_file:
        raise UsageError("STOCKSYNC_STORES_FILE is not set")
    return settings


def _stores(path: str, environment: str) -> StoresConfig:
    try:
        return load_stores(path, frozenset({ACCESS_TOKEN}), environment)
    except BadStoresFile as exc:  # where and what, never the value (it may be a secret)
        raise UsageError(f"stores file {exc}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"stores file {path}: {str(exc).splitlines()[0]}") from None


def _row(result: StoreConnection, written: str, dry_run: bool) -> dict[str, Any]:
    """One table row; subscription counts only where they were applied (or, on a dry run,
    would be)."""
    subs = result.subscriptions
    mapping = ",".join(f"{k}={v}" for k, v in result.mapping.items())
    counts = {k: len(subs.get(k, [])) if result.ok or dry_run else None
              for k in ("created", "updated", "removed", "kept")}  # fmt: skip
    return {"shop": result.shop, "status": result.status, "mapping": mapping + written,
            **counts, "error": result.error}  # fmt: skip


def _say(line: str) -> None:
    sys.stderr.write(f"{PROG}: {line}\n")


async def connect(
    args: argparse.Namespace, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """``transport`` is a test seam (the simulator over ASGI)."""
    path = str(settings.stores_file)
    stores = _stores(path, settings.environment)
    chosen = [s for s in stores.stores if args.store in (None, s.shop)]
    if not chosen:
        raise UsageError(f"no store {args.store} in {path}")
    public_url = args.public_url or settings.public_url
    if not public_url:
        raise UsageError("give --public-url (or set STOCKSYNC_PUBLIC_URL)")
    try:
        callback_url(public_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    explicit = explicit_map(args.map)
    if explicit and len(chosen) > 1:
        raise UsageError("--map applies to one store: give --store too")
    mapped = {s.shop: dict(s.locations) for s in stores.stores}
    async with httpx.AsyncClient(timeout=settings.request_timeout_s, transport=transport) as http:
        conn = connector(settings, stores, ShopifyClient(http))
        results: list[StoreConnection] = []
        rows: list[dict[str, Any]] = []
        for store in chosen:
            known = [k for shop, m in mapped.items() if shop != store.shop for k in m]
            result = await conn.connect(store, public_url, dry_run=args.dry_run,
                                        explicit=explicit, known_ids=known)  # fmt: skip
            written = _mapping(result, path, args.dry_run)
            if result.ok:
                mapped[store.shop] = result.mapping  # the next stores map to the same ids
            results.append(result)
            rows.append(result.to_json() if args.json else _row(result, written, args.dry_run))
    print_rows(rows, COLUMNS, as_json=args.json)
    ok = [r.shop for r in results if r.ok]
    if any(r.mapping_changed and r.ok for r in results) and not args.dry_run:
        _say("mapping written: restart the running services, they read the stores file at start")
    if ok and not args.dry_run and not args.no_sync:
        remapped = [r.shop for r in results if r.ok and r.mapping_changed]
        if not await first_sync(settings, ok, remapped, args.json):
            return 1
    return 0 if len(ok) == len(results) else 1


def _mapping(result: StoreConnection, path: str, dry_run: bool) -> str:
    """Write a changed mapping (or print it on a dry run); what to show after the mapping."""
    if not result.mapping_changed:
        return ""
    if dry_run or not result.ok:
        _say("mapping for the stores file:\n" + snippet(result.shop, result.mapping))
        return " (not written)"
    try:
        write_locations(path, result.shop, result.mapping)
    except (OSError, StoresFileError) as exc:
        result.status, result.error = "failed", f"mapping not written: {exc}"
        _say("add it by hand:\n" + snippet(result.shop, result.mapping))
        return " (not written)"
    return " (written)"


async def first_sync(
    settings: Settings, shops: list[str], remapped: list[str], as_json: bool
) -> bool:
    """Run the first-sync job here, pushing with lanes of these shops only (a running
    shopify-sync that holds a shop's lane lease pushes for it instead). A store whose mapping
    was just written is not synced while a running shopify-sync holds its lane: that one still
    has the old mapping and would discard the corrections as unlisted."""
    c = build(settings.model_copy(update={"discover_on_start": False}))
    try:
        blocked = [shop for shop in remapped if await _lane_held(c.lanes.lanes[shop].lease, c)]
        for shop in blocked:
            _say(f"{shop}: a running shopify-sync holds its lane with the old mapping: restart "
                 "it, then run connect again (this store is not synced)")  # fmt: skip
        ready = [shop for shop in shops if shop not in blocked]
        return await _run_first_sync(c, ready, as_json) and not blocked
    finally:
        await c.producer.stop()  # also when never started: it was made by build
        await c.redis.aclose()
        await c.http.aclose()


async def _lane_held(lease: object, c: Container) -> bool:
    return isinstance(lease, Lease) and bool(await c.redis.exists(lease.key))


async def _run_first_sync(c: Container, shops: list[str], as_json: bool) -> bool:
    if not shops:
        return True
    await c.producer.start()  # a write that can never succeed is dead-lettered through it
    lanes = Lanes({shop: lane for shop, lane in c.lanes.lanes.items() if shop in shops})
    async with lanes_running(lanes):
        assert c.runner is not None  # noqa: S101 - build always makes one
        job_id = await c.runner.submit("first-sync", {"shops": shops})
        doc = await _follow(c.runner.jobs.get, job_id, as_json)
        await c.runner.stop()
    return doc.get("status") == "done"


async def _follow(get: Any, job_id: str, as_json: bool) -> dict[str, Any]:
    shown = None
    while True:
        doc: dict[str, Any] = await get(job_id) or {}
        progress = doc.get("progress") or {}
        seen = (doc.get("status"), progress.get("phase"), str(progress.get("pending")))
        if seen != shown:
            shown = seen
            line = {"job_id": job_id, "status": doc.get("status"), **progress}
            if as_json:
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
            else:
                _say(
                    f"first sync {job_id}: {doc.get('status')} {progress.get('phase') or ''} "
                    f"pending {progress.get('pending') or {}} {doc.get('error') or ''}".rstrip()
                )
        if doc.get("status") in ("done", "failed"):
            return doc
        await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(connect(args, _settings()))
    except UsageError as exc:
        _say(str(exc))
        return 2
    except (*REDIS_ERRORS, KafkaError, OSError) as exc:  # the first sync's Redis or Kafka
        if isinstance(exc, REDIS_ERRORS) and not redis_failed(exc):
            raise  # a call the cluster client refused: a bug, with its traceback
        _say(f"first sync not run: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
