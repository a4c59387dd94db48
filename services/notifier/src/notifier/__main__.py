"""``stocksync-notifier`` / ``python -m notifier``."""

from __future__ import annotations

from notifier.settings import get_settings
from stocksync_common.service import serve


def main() -> None:
    serve("notifier.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
