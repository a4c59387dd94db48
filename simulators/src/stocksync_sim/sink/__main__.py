"""``python -m stocksync_sim.sink`` / ``stocksync-sink``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from stocksync_sim.sink.app import create_app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stocksync-sink", description="Records every POST.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
