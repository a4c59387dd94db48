"""The HTTP port of every service, as the images, compose file, manifests and dashboards
must publish it (one table for every deploy test): every service of the workspace
(services/<name>) with its Settings' default port, so a new service is held to every deploy
file without an edit here."""

from __future__ import annotations

from workspace import services

SERVICE_PORTS = {s.name: s.port for s in services()}
