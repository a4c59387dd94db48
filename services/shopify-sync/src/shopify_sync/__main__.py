"""``stocksync-shopify-sync`` / ``python -m shopify_sync``."""

from __future__ import annotations

from shopify_sync.settings import get_settings
from stocksync_common.service import serve


def main() -> None:
    serve("shopify_sync.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
