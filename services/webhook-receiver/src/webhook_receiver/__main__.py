"""``stocksync-webhook-receiver`` / ``python -m webhook_receiver``."""

from __future__ import annotations

import os
import shutil
import tempfile

from stocksync_common.service import serve
from webhook_receiver.metrics import MULTIPROC_ENV
from webhook_receiver.settings import get_settings


def main() -> None:
    settings = get_settings()
    multiproc_dir = None
    if settings.workers > 1:
        # Each start gets a fresh directory: values of a previous run must not be summed in.
        # Set before uvicorn spawns the workers, which import prometheus_client afresh.
        multiproc_dir = tempfile.mkdtemp(prefix="stocksync-webhook-receiver-metrics-")
        os.environ[MULTIPROC_ENV] = multiproc_dir
    try:
        serve("webhook_receiver.entrypoints.app:create_app", settings, workers=settings.workers)
    finally:
        if multiproc_dir is not None:
            shutil.rmtree(multiproc_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
