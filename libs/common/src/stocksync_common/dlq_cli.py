"""``stocksync-dlq``: list, show, replay and purge DLQ records from a shell.

Talks to Kafka and Redis directly (``STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS``,
``STOCKSYNC_REDIS_URL``), with the same code and the same replay claims as the HTTP API::

    stocksync-dlq list                                  # every DLQ topic, depth and pending
    stocksync-dlq list --topic T [--status all] [--reason dependency:]
    stocksync-dlq show ID                               # ID = <dlq topic>:<partition>:<offset>
    stocksync-dlq replay ID [ID ...] | --topic T (--reason R | --all)
    stocksync-dlq purge --topic T --confirm T
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from typing import Any

import orjson

from stocksync_common.dlq import STATUSES
from stocksync_common.dlq_admin import DlqAdmin
from stocksync_common.redis_client import connect as connect_redis
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import registered

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stocksync-dlq", description="Inspect and replay DLQs.")
    p.add_argument("--group", action="append", help="limit to these groups (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="DLQ topics, or one topic's records")
    ls.add_argument("--topic")
    ls.add_argument("--status", choices=STATUSES, default="pending")
    ls.add_argument("--reason", help="reason prefix, e.g. dependency:")
    ls.add_argument("--limit", type=int, default=100)
    show = sub.add_parser("show", help="one record in full")
    show.add_argument("id")
    rp = sub.add_parser("replay", help="replay ids, a reason, or all of a topic")
    rp.add_argument("ids", nargs="*")
    rp.add_argument("--topic")
    rp.add_argument("--reason")
    rp.add_argument("--all", action="store_true")
    pg = sub.add_parser("purge", help="delete every record of a topic")
    pg.add_argument("--topic", required=True)
    pg.add_argument("--confirm", help="the topic again (asked for when missing)")
    return p


def validate(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, or None."""
    if args.command == "replay":
        if args.ids and (args.topic or args.reason or args.all):
            return "give ids or --topic, not both"
        if not args.ids and not (args.topic and (args.reason or args.all)):
            return "give ids, or --topic with --reason or --all"
    return None


def _print(args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if args.json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return
    sys.stdout.write("  ".join(columns) + "\n")
    for row in rows:
        sys.stdout.write("  ".join(str(row.get(c, "")) for c in columns) + "\n")


async def run(args: argparse.Namespace, settings: CommonSettings) -> int:
    every = registered()
    groups = args.group or [*every.consumers, *every.producers]
    redis = connect_redis(settings.redis_url)
    admin = DlqAdmin(settings.kafka_bootstrap_servers, redis, groups)
    try:
        return await _dispatch(args, admin)
    finally:
        await admin.close()
        await redis.aclose()


async def _dispatch(args: argparse.Namespace, admin: DlqAdmin) -> int:
    who = f"cli:{getpass.getuser()}"
    if args.command == "list" and not args.topic:
        _print(args, await admin.overview(), ["topic", "depth", "pending"])
    elif args.command == "list":
        recs = await admin.records(args.topic, args.status, args.limit, args.reason)
        cols = ["id", "status", "reason", "attempts", "key", "correlation_id", "error"]
        _print(args, [r.summary() for r in recs], cols)
    elif args.command == "show":
        rec = await admin.get(args.id)
        if rec is None:
            sys.stderr.write(f"no record {args.id}\n")
            return 1
        sys.stdout.write(orjson.dumps(rec.full(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.command == "replay":
        if args.ids:
            found = [await admin.get(i) for i in args.ids]
            recs = [r for r in found if r is not None]
        else:
            recs = await admin.records(args.topic, "pending", 0, args.reason)
        done = await admin.replay(recs, who)
        log.info("audit: dlq replay", extra={"who": who, "replayed": len(done)})
        _print(args, [{"replayed": len(done), "ids": done}], ["replayed", "ids"])
    else:
        if args.confirm != args.topic:
            sys.stderr.write("not confirmed; nothing purged\n")
            return 2
        purged = await admin.purge(args.topic)
        log.info("audit: dlq purge", extra={"who": who, "topic": args.topic, "purged": purged})
        _print(args, [{"purged": purged}], ["purged"])
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    problem = validate(args)
    if problem:
        p.error(problem)
    if args.command == "purge" and args.confirm is None:
        args.confirm = input(f"type {args.topic} to purge it: ")
    return asyncio.run(run(args, CommonSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
