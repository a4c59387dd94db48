"""Write docs/reliability.md from the fault suite's results (.work/faults/latest.json).

python scripts/faults/report.py [results.json] [out.md]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REPRODUCE = (
    "scripts/faults/run.sh                  # own broker, Redis, proxy and stack; FAULTS_SCALE=3\n"
    "FAULTS_SCALE=10 scripts/faults/run.sh  # a bigger workload (10 orders per unit of scale)\n"
    "python scripts/faults/report.py        # this page, from .work/faults/latest.json"
)


def fired(doc: dict[str, Any]) -> str:
    """A short proof that the injector fired, from what the suite recorded."""
    inj, healed = doc.get("injected", {}), doc.get("healed", {})
    if "held" in inj:  # killed between fetch and handling
        return (
            "; ".join(
                f"{name} pid {pid} killed holding {_held(inj['held'][name])}, "
                f"now {healed.get('new_pids', {}).get(name)}"
                for name, pid in inj["killed_pids"].items()
            )
            + f"; committed past a held record: {len(inj['committed_past_held'])}"
        )
    if "killed_pid" in inj:
        text = f"pid {inj['killed_pid']} killed, now {healed.get('new_pid')}"
        if "rebuild" in healed:  # redis_kill: the rebuild CLI ran during the heal
            rb = healed["rebuild"]
            force = " (--force)" if healed.get("forced") else ""
            text += (
                f"; rebuild{force}: {rb.get('skus')} SKUs, {rb.get('commands_replayed')} "
                f"replayed, {rb.get('keys_remarked')} keys re-marked"
            )
        return text
    if "old_pid" in inj:
        return f"pid {inj['old_pid']} stopped, now {healed.get('new_pid')}"
    if "state" in inj:
        return f"process state {inj['state']} while paused"
    if "joined" in inj:
        return f"joined and left: {', '.join(inj['joined'])}"
    if "at_heal" in healed:
        before, after = inj.get("before", {}), healed["at_heal"]
        moved = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        keys = ("reset", "severed_reset", "dropped", "blackholed", "stalled", "delayed")
        shown = {k: v for k, v in moved.items() if k in keys or "." in k or k.endswith(".com")}
        return ", ".join(f"{k} +{v}" for k, v in sorted(shown.items())) or "no change"
    return json.dumps(doc)[:60]


def _held(batches: list[dict[str, Any]]) -> str:
    """Fetched, unhandled batches as ``topic:partition@first-last``."""
    return ", ".join(f"{b['topic']}:{b['partition']}@{b['first']}-{b['last']}" for b in batches)


def verdict(f: dict[str, Any]) -> str:
    detail = f["detail"]
    problems = []
    if not detail.get("quiesced"):
        problems.append("no quiescence")
    if detail.get("truth_vs_model"):
        problems.append(f"truth != model {detail['truth_vs_model']}")
    if f["lost"] or f["double_applied"]:
        problems.append("lost or double-applied")
    if f["fired"].get("injected", {}).get("committed_past_held"):
        problems.append("committed past a record not yet handled")
    return "FAIL: " + "; ".join(problems) if problems else "pass"


def render(doc: dict[str, Any]) -> str:
    rows = [
        "| fault | events in | accepted | applied | in DLQ | lost | double-applied "
        "| time to recover (s) | injector fired | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for f in doc["faults"]:
        rows.append(
            f"| {f['fault']} | {f['events_in']} | {f['accepted']} | {f['applied']} "
            f"| {f['in_dlq']} | {f['lost']} | {f['double_applied']} | {f['recover_s']} "
            f"| {fired(f['fired'])} | {verdict(f)} |"
        )
    machine = doc["machine"]
    total_lost = sum(f["lost"] for f in doc["faults"])
    total_double = sum(f["double_applied"] for f in doc["faults"])
    return "\n".join(
        [
            "# Reliability: faults against outcomes",
            "",
            "Produced by the fault suite (`tests/faults`, marker `faults`) and",
            "`scripts/faults/report.py`; do not edit by hand.",
            f"Run at {doc['run_at']} on {machine['cpus']} CPUs (`{machine['uname']}`),",
            f"workload scale {doc['scale']}. Lost in total: **{total_lost}**; "
            f"double-applied in total: **{total_double}**.",
            "",
            "Each fault: a seeded workload of signed Shopify webhooks (orders/create and",
            "orders/cancelled across three stores, ~20 % re-delivered with the same webhook id,",
            "some cancels before their create, some re-sent hours late with a new id) plus WMS",
            "receipts; the fault is injected after a third of it was sent, healed after its",
            "window, then the suite waits for quiescence (truth and every simulator store equal",
            "the model, every consumer group's lag 0) and checks the oracle.",
            "",
            "- **events in**: deliveries sent (webhooks, duplicates included, and receipts);",
            "  **accepted**: answered 200 (the sender retries like Shopify until it is);",
            "- **applied**: orders whose ledger shows exactly the units the model holds;",
            "- **in DLQ**: orders not applied but found in a `<topic>.dlq.<group>` record;",
            "- **lost**: orders neither applied nor in a DLQ (must be 0);",
            "- **double-applied**: ledger entries beyond the first for one idempotency key;",
            "- **time to recover**: from heal until quiescence (a restarted process's start-up",
            "  is before the heal mark);",
            "- **result**: pass when quiescence came, truth (and every store) equals the model",
            "  (receipts included), nothing was lost and nothing applied twice.",
            "",
            *rows,
            "",
            "## Reproduce",
            "",
            "```sh",
            REPRODUCE,
            "```",
            "",
        ]
    )


def main(argv: list[str]) -> None:
    src = Path(argv[1]) if len(argv) > 1 else ROOT / ".work" / "faults" / "latest.json"
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "docs" / "reliability.md"
    out.write_text(render(json.loads(src.read_text())))
    print(f"wrote {out}")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main(sys.argv)
