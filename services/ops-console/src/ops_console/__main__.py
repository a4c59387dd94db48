"""``stocksync-ops-console`` / ``python -m ops_console``."""

from __future__ import annotations

from ops_console.settings import get_settings
from stocksync_common.service import serve


def main() -> None:
    serve("ops_console.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
