"""The runbook's DLQ commands (docs/operations.md, "Runbooks") run as written against the
running system: every curl answers JSON that is not an error, every `stocksync-dlq` command
exits 0, and the dead letter they were pointed at ends replayed and applied, then purged.

The example host (`shopify-sync:8083`) becomes the running inventory-adjuster (the same DLQ
API is on every consuming service), `T` its DLQ topic and `T:0:42` the record made here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from functools import partial
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from stack import DEMO_ENV, ROOT, Stack
from stocksync_common.topics import INVENTORY_COMMANDS, dlq_topic
from support.dead_letters import exhausted_adjust
from support.infra import KAFKA
from support.poll import wait_for

pytestmark = pytest.mark.e2e

GROUP = "inventory-adjuster"
DLQ = dlq_topic(INVENTORY_COMMANDS, GROUP)
ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}
EXAMPLE_HOST = "http://shopify-sync:8083"


def runbook_commands() -> list[str]:
    """The lines of the first ``sh`` block under "## Runbooks", as the page shows them."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Runbooks\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def pointed_at(line: str, adjuster: str, record_id: str) -> str:
    """The line with the example host, record id and topic replaced by the real ones."""
    line = line.replace(EXAMPLE_HOST, adjuster).replace("T:0:42", record_id)
    return re.sub(r'(?<=[=" ])T(?=[&" ;]|$)', DLQ, line)


async def dead_letter(sku: str, run: str) -> None:
    """A replayable dead letter: +3 on ``sku``, applied once when replayed."""
    value, headers = exhausted_adjust(sku, f"runbook-e2e:{run}", 3)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(DLQ, value, key=sku.encode(), headers=headers)
    finally:
        await producer.stop()


def record_of(http: httpx.Client, adjuster: str, sku: str) -> str | None:
    r = http.get(
        f"{adjuster}/admin/dlq/records", params={"topic": DLQ, "limit": 1000}, headers=ADMIN
    )
    for record in r.json().get("records", []) if r.is_success else []:
        if sku in json.dumps(record):
            return str(record["id"])
    return None


def applied(http: httpx.Client, adjuster: str, sku: str) -> bool:
    """The dead letter's command (+3 on a SKU nothing else touches) is in truth, once."""
    r = http.get(f"{adjuster}/inventory/{sku}")
    return r.status_code == 200 and int(r.json()["available"]) == 3


def run_lines(lines: list[str], prelude: str, env: dict[str, str]) -> None:
    """Each command of ``lines`` (split at "; ") in bash after ``prelude``: exit 0, and a curl
    answers JSON that is not an error."""
    for line in lines:
        for command in (c.strip() for c in line.split("; ")):
            done = subprocess.run(  # noqa: S603 - the documented commands, at this stack
                ["bash", "-c", f"{prelude}\n{command}"],
                env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            said = f"{command}\n{done.stdout}\n{done.stderr}"
            assert done.returncode == 0, said
            if command.startswith("curl"):
                answer = json.loads(done.stdout)
                assert not (isinstance(answer, dict) and "detail" in answer), said


async def test_the_runbooks_dlq_commands_work_as_written(stack: Stack, http: httpx.Client) -> None:
    """The API's lines on one dead letter (list, show, replay it, replay by reason, purge),
    then the CLI's on another: each replay applies its command once, each purge empties."""
    adjuster = stack.url("inventory-adjuster")
    env = {**stack.base_env(), "STOCKSYNC_ADMIN_TOKEN": DEMO_ENV["STOCKSYNC_ADMIN_TOKEN"]}
    bindir = str(Path(sys.executable).parent)  # stocksync-dlq, as uv installs it
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    written = runbook_commands()
    prelude = written[0]  # sets H and J for the curl lines
    assert prelude.startswith("H=")
    for tool in ("curl", "stocksync-dlq"):
        run = uuid.uuid4().hex[:6].upper()
        sku = f"RUNBOOK-{run}"
        await dead_letter(sku, run)
        rid = wait_for(f"{sku} listed", partial(record_of, http, adjuster, sku), 60)
        lines = [pointed_at(line, adjuster, rid) for line in written if line.startswith(tool)]
        commands = [c for line in lines for c in line.split("; ")]
        assert len(commands) >= 4, f"the runbook lost its {tool} commands"
        run_lines(lines, prelude, env)
        # replayed (by id, or by reason) and applied once; the purge emptied the topic
        wait_for(f"{sku} replayed and applied", partial(applied, http, adjuster, sku), 60)
        assert record_of(http, adjuster, sku) is None
