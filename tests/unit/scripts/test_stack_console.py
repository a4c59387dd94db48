"""The local run tells the ops console which services to show from the same annotations
scripts/generate_deploy.py writes its Kubernetes and compose setting from (#21)."""

from __future__ import annotations

import json
from pathlib import Path

from generate_deploy import CONSOLE_SETTING, shown_on_console
from stack import SERVICES, Ports, Stack


def test_the_console_is_given_each_service_it_shows_at_its_local_port(tmp_path: Path) -> None:
    stack = Stack(Ports().shifted(100), tmp_path)
    urls = json.loads(stack.base_env()[CONSOLE_SETTING])
    assert list(urls) == list(shown_on_console())
    assert list(urls) == [s for s in SERVICES if s != "ops-console"]
    for name, url in urls.items():
        assert url == f"http://127.0.0.1:{stack.port(name)}", name
    assert urls["notifier"] == "http://127.0.0.1:8185", "the shifted port"
