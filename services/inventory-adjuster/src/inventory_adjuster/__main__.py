"""``stocksync-inventory-adjuster`` / ``python -m inventory_adjuster``."""

from __future__ import annotations

from inventory_adjuster.settings import get_settings
from stocksync_common.service import serve


def main() -> None:
    serve("inventory_adjuster.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
