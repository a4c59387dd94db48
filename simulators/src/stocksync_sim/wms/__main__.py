"""``python -m stocksync_sim.wms`` / ``stocksync-wms-sim``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import uvicorn

from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.process import quiet_collector
from stocksync_sim.wms.app import DEV_API_KEY, WmsSettings, create_app

SIGNING_KEY_ENV = "STOCKSYNC_WMS_WEBHOOK_SECRET"
API_KEY_ENV = "STOCKSYNC_WMS_API_KEY"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="stocksync-wms-sim", description="Simulated WMS emitting signed warehouse events."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8080/webhooks/wms")
    parser.add_argument("--secret", default=None, help=f"HMAC secret (default: ${SIGNING_KEY_ENV})")
    parser.add_argument("--warehouse-id", default="WH1")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--retry-window", type=float, default=3.0, help="seconds for all retries")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--api-key", default=None, help=f"REST API key (default: ${API_KEY_ENV})")
    parser.add_argument("--rate-limit", type=float, default=50.0, help="requests/s per API key")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    secret = args.secret or os.environ.get(SIGNING_KEY_ENV)
    if not secret:
        sys.exit(f"stocksync-wms-sim: give --secret or set {SIGNING_KEY_ENV}")
    settings = WmsSettings(
        webhook_url=args.webhook_url,
        secret=secret,
        warehouse_id=args.warehouse_id,
        retry=RetryPolicy(args.max_attempts, args.retry_window, args.timeout),
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or DEV_API_KEY,
        rate_limit_per_s=args.rate_limit,
    )
    quiet_collector()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
