"""``stocksync-webhook-receiver`` / ``python -m webhook_receiver``."""

from __future__ import annotations

from stocksync_common.service import serve
from webhook_receiver.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve("webhook_receiver.entrypoints.app:create_app", settings, workers=settings.workers)


if __name__ == "__main__":
    main()
