"""``python -m stocksync_sim.shopify`` / ``stocksync-shopify-sim``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.process import quiet_collector
from stocksync_sim.shopify.app import create_app
from stocksync_sim.shopify.config import ConfigError, load_stores
from stocksync_sim.shopify.runtime import SimSettings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="stocksync-shopify-sim",
        description="Simulated Shopify stores: Admin GraphQL (inventory), cost buckets, webhooks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--stores-file", type=Path, required=True, help="StockSync stores YAML")
    parser.add_argument(
        "--webhook-url", default=None, help="where webhooks go while a store has no subscriptions"
    )
    parser.add_argument(
        "--validate",
        choices=("auto", "on", "off"),
        default="auto",
        help="validate documents against Shopify's schema: auto = when the schema was fetched",
    )
    parser.add_argument("--schema-dir", type=Path, default=None, help="dir of admin_*.json.gz")
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument(
        "--webhook-retry-window",
        type=float,
        default=3.0,
        help="seconds over which retries are spread (Shopify: 14400)",
    )
    parser.add_argument("--webhook-timeout", type=float, default=5.0)
    parser.add_argument("--max-recorded-requests", type=int, default=100_000)
    parser.add_argument(
        "--bulk-delay", type=float, default=0.2, help="seconds a bulk query stays RUNNING"
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        stores = load_stores(args.stores_file)
    except ConfigError as exc:
        sys.exit(f"stocksync-shopify-sim: {exc}")
    settings = SimSettings(
        stores=stores,
        webhook_url=args.webhook_url,
        validation=args.validate,
        schema_dir=args.schema_dir,
        retry=RetryPolicy(
            max_attempts=args.webhook_max_attempts,
            window_seconds=args.webhook_retry_window,
            timeout_seconds=args.webhook_timeout,
        ),
        max_recorded_requests=args.max_recorded_requests,
        bulk_delay_s=args.bulk_delay,
    )
    quiet_collector()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
