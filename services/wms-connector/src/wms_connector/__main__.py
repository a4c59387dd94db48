"""``stocksync-wms-connector`` / ``python -m wms_connector``."""

from __future__ import annotations

from stocksync_common.service import serve
from wms_connector.settings import get_settings


def main() -> None:
    serve("wms_connector.entrypoints.app:create_app", get_settings())


if __name__ == "__main__":
    main()
