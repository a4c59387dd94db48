"""``stocksync-order-consumer`` / ``python -m order_consumer``."""

from __future__ import annotations

from order_consumer.settings import get_settings
from stocksync_common.service import serve


def main() -> None:
    serve("order_consumer.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
