"""``stocksync-dlq``: list, show, replay and purge DLQ records from a shell.

Talks to Kafka and Redis directly (``STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS``,
``STOCKSYNC_REDIS_URL``), with the same code and the same replay claims as the HTTP API::

    stocksync-dlq list                                  # every DLQ topic, depth and pending
    stocksync-dlq list --topic T [--status all] [--reason dependency:] [--raw]
    stocksync-dlq show ID [--raw]                       # ID = <dlq topic>:<partition>:<offset>
    stocksync-dlq replay ID [ID ...] | --topic T (--reason R | --all)
    stocksync-dlq purge --topic T --confirm T

Records are shown with customer data masked (``stocksync_common.dlq.masked_view``, as the DLQ
API shows them to viewers and operators); ``--raw`` shows them as kept and writes an audit
line naming the login. A record of an erased customer or shop is shown without their data
either way (``stocksync_common.dlq.redaction``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from typing import Any

import orjson

from stocksync_common.cli_output import print_rows
from stocksync_common.dlq import DLQ_MARK, STATUSES, masked_view, parse_record_id
from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.logs import configure_logging
from stocksync_common.redis_client import connect_settings
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import registered

log = logging.getLogger(__name__)


def _common(top: bool) -> argparse.ArgumentParser:
    """--json and --group, read before or after the command: the command's copies leave the
    value alone when they are not given there (their actions are not shared, since
    defaults set on one parser's action would reach the other's)."""
    keep: Any = argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=False if top else keep, help="print JSON lines"
    )
    common.add_argument(
        "--group", action="append", default=None if top else keep, help="limit to these groups"
    )
    return common


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stocksync-dlq", description="Inspect and replay DLQs.", parents=[_common(True)]
    )
    common = _common(False)
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="DLQ topics, or one topic's records", parents=[common])
    ls.add_argument("--topic")
    ls.add_argument("--status", choices=STATUSES, default="pending")
    ls.add_argument("--reason", help="reason prefix, e.g. dependency:")
    ls.add_argument("--limit", type=int, default=100)
    show = sub.add_parser("show", help="one record in full", parents=[common])
    show.add_argument("id")
    for reader in (ls, show):
        reader.add_argument(
            "--raw", action="store_true", help="customer data unmasked (an audit line is written)"
        )
    rp = sub.add_parser("replay", help="replay ids, a reason, or all of a topic", parents=[common])
    rp.add_argument("ids", nargs="*")
    rp.add_argument("--topic")
    rp.add_argument("--reason")
    rp.add_argument("--all", action="store_true")
    pg = sub.add_parser("purge", help="delete every record of a topic", parents=[common])
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
    print_rows(rows, columns, as_json=args.json)


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"stocksync-dlq: {message}\n")
    return code


async def run(args: argparse.Namespace, settings: CommonSettings) -> int:
    every = registered()
    groups = args.group or [*every.consumers, *every.producers]
    redis = connect_settings(settings)
    admin = DlqAdmin(
        settings.kafka_bootstrap_servers, redis, groups, security=settings.kafka_security
    )
    try:
        return await _dispatch(args, admin)
    finally:
        await admin.close()
        await redis.aclose()


async def _dispatch(args: argparse.Namespace, admin: DlqAdmin) -> int:
    who = f"cli:{getpass.getuser()}"
    topic = getattr(args, "topic", None)
    if topic and (DLQ_MARK not in topic or not (await admin.bounds(topic))[0]):
        return _fail(f"no DLQ topic {topic!r} on the broker ('stocksync-dlq list' lists them)")
    ids = [args.id] if args.command == "show" else list(getattr(args, "ids", None) or [])
    for rid in ids:
        try:
            parse_record_id(rid)
        except ValueError:
            return _fail(f"invalid record id {rid!r}: expected <dlq topic>:<partition>:<offset>")
    if args.command == "list" and not topic:
        _print(args, await admin.overview(), ["topic", "depth", "pending"])
    elif args.command == "list":
        recs = await admin.records(args.topic, args.status, args.limit, args.reason)
        cols = ["id", "status", "reason", "attempts", "key", "correlation_id", "error"]
        shown = _shown(args, who, [r.summary() for r in recs], topic=topic, count=len(recs))
        _print(args, shown, cols)
    elif args.command == "show":
        rec = await admin.get(args.id)
        if rec is None:
            return _fail(f"no record {args.id}", 1)
        [doc] = _shown(args, who, [rec.full()], record=args.id)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.command == "replay":
        return await _replay(args, admin, who)
    else:
        if args.confirm != args.topic:
            sys.stderr.write("not confirmed; nothing purged\n")
            return 2
        purged = await admin.purge(args.topic)
        log.info("audit: dlq purge", extra={"who": who, "topic": args.topic, "purged": purged})
        _print(args, [{"purged": purged}], ["purged"])
    return 0


def _shown(
    args: argparse.Namespace, who: str, docs: list[dict[str, Any]], **detail: Any
) -> list[dict[str, Any]]:
    """Records as the command prints them: masked, or raw with ``--raw`` and an audit line."""
    if not args.raw:
        return [masked_view(d) for d in docs]
    what = "dlq record read raw" if args.command == "show" else "dlq records read raw"
    log.info("audit: %s", what, extra={"who": who, **detail})
    return [{**d, "masked": False} for d in docs]


async def _replay(args: argparse.Namespace, admin: DlqAdmin, who: str) -> int:
    """Replay; records that cannot succeed are refused with the reason (exit 1 if any was
    refused or not found)."""
    missing: list[str] = []
    if args.ids:
        recs = []
        for rid in args.ids:
            rec = await admin.get(rid)
            if rec is None:
                missing.append(rid)
            else:
                recs.append(rec)
    else:
        recs = await admin.records(args.topic, "pending", 0, args.reason)
    refused = {r.id: r.replay_refusal for r in recs if r.replay_refusal is not None}
    done = await admin.replay(recs, who)
    log.info("audit: dlq replay", extra={"who": who, "replayed": len(done)})
    skipped = [r.id for r in recs if r.id not in done and r.id not in refused]
    if args.json:
        summary = {"replayed": len(done), "ids": done, "refused": refused, "not_found": missing,
                   "already_replayed": skipped}  # fmt: skip
        _print(args, [summary], [])
    else:
        rows = [{"id": i, "result": "replayed"} for i in done]
        rows += [{"id": i, "result": f"refused: {why}"} for i, why in refused.items()]
        rows += [{"id": i, "result": "not found"} for i in missing]
        rows += [{"id": i, "result": "already replayed"} for i in skipped]
        _print(args, rows, ["id", "result"])
    return 1 if refused or missing else 0


def main(argv: list[str] | None = None) -> int:
    # audit lines (replay, purge, a raw read) as JSON on stderr; other libraries' chatter not
    configure_logging("stocksync-dlq", "WARNING")
    log.setLevel(logging.INFO)
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
