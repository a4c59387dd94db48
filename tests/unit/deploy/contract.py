"""The HTTP port of every service, as the images, compose file, manifests and dashboards
must publish it (one table for every deploy test)."""

from __future__ import annotations

SERVICE_PORTS = {
    "webhook-receiver": 8080,
    "order-consumer": 8081,
    "inventory-adjuster": 8082,
    "shopify-sync": 8083,
    "wms-connector": 8084,
    "notifier": 8085,
    "ops-console": 8086,
}
