"""Write docs/reliability.md from the fault suite's results (.work/faults/latest.json), and
its sections on the three-broker cluster and on a Redis master's loss from the cluster
suite's (.work/faults/cluster-latest.json); each keeps the others' parts of the page as they
are (a cluster run with broker cases only, or the Redis master's case only, rewrites that
section alone).

python scripts/faults/report.py [results.json] [out.md]
python scripts/faults/report.py --cluster [cluster-latest.json] [out.md]
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
    "python scripts/faults/report.py        # this page, from .work/faults/latest.json\n"
    "scripts/faults/run.sh --cluster        # tests/cluster, every case (own 3-broker cluster)\n"
    "python scripts/faults/report.py --cluster  # its section, from cluster-latest.json"
)
CLUSTER_HEADING = "## Broker loss on a three-broker cluster"
REDIS_HEADING = "## A Redis master lost on the Redis Cluster"
REPRODUCE_HEADING = "## Reproduce"
REPRODUCE_BLOCK = "\n".join([REPRODUCE_HEADING, "", "```sh", REPRODUCE, "```", ""])


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


def render(doc: dict[str, Any], cluster: str = "") -> str:
    """The page: the fault suite's table from ``doc``, then ``cluster`` (its section)."""
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
            *([cluster.rstrip("\n"), ""] if cluster else []),
            REPRODUCE_BLOCK,
        ]
    )


def _cell(f: dict[str, Any]) -> list[str]:
    """The cluster table's cells of one case: which broker, then the measured seconds."""
    inj, out = f["fired"]["injected"], f["detail"].get("outage", {})
    during = str(out.get("accepted_during", "-"))
    window, back = "none", "-"
    if out.get("window_s") is not None:
        window = f"{out['window_s']} ({out['first_s']}-{out['last_s']})"
        back = str(round(out["first_s"] + out["window_s"], 2))
    if "steps" in inj:  # a rolling restart: each node's restart and catch-up
        steps = "; ".join(
            f"node {s['node']}: restart {s['restart_s']} s, in sync {s['in_sync_s']} s, "
            f"{s['accepted_during']} accepted"
            for s in inj["steps"]
        )
        return [f"each in turn (SIGTERM, start): {steps}", during, "-",
                str(out.get("refused", 0)), window, back, "-", "-"]  # fmt: skip
    if not inj:  # the happy path: nothing was injected
        return ["none (no fault)", "-", "-", str(out.get("refused", 0)), window, back, "-", "-"]
    role = ", the active controller" if inj.get("active_controller") else ""
    broker = f"node {inj['node']}{role}, leading {inj['partitions_led']} partitions"
    return [broker, during, str(inj["election_s"]), str(out.get("refused", 0)), window, back,
            str(inj["restart_s"]), str(inj["in_sync_s"])]  # fmt: skip


def _section(heading: str, text: list[str], rows: list[list[str]]) -> str:
    """A generated section: its heading, its text, its table (header and alignment first)."""
    table = ["| " + " | ".join(cells) + " |" for cells in rows]
    table[1] = "|" + "|".join(rows[1]) + "|"  # the alignment row, as Markdown writes it
    return "\n".join([heading, "", *text, "", *table, ""])


def render_cluster(doc: dict[str, Any]) -> str:
    """The cluster section (tests/cluster's figures)."""
    rows = [
        ["case", "load", "events in", "accepted", "applied", "lost", "double-applied", "broker",
         "accepted during the fault", "leaders elected after (s)", "503s", "503 window (s)",
         "accepted again after (s)", "restart (s)", "replicas in sync after (s)",
         "time to recover (s)", "result"],
        ["---", *["---:"] * 6, "---", *["---:"] * 8, "---"],
    ]  # fmt: skip
    for f in doc["faults"]:
        load = f["detail"].get("load_avg_1m", "-")
        cells = [f["fault"], str(load), *(str(f[k]) for k in ("events_in", "accepted", "applied")),
                 str(f["lost"]), str(f["double_applied"]), *_cell(f), str(f["recover_s"]),
                 verdict(f)]  # fmt: skip
        rows.append(cells)
    machine = doc["machine"]
    return _section(
        CLUSTER_HEADING,
        [
            "Produced by `tests/cluster` (marker `cluster`) and `scripts/faults/report.py",
            f"--cluster`; do not edit by hand. Run at {doc['run_at']} on {machine['cpus']} CPUs",
            f"(`{machine['uname']}`), workload scale {doc['scale']}; the **load** column says",
            "how busy the machine was (the three brokers, the Redis Cluster and the stack alone",
            "keep 2 cores at a load of 5-11).",
            "",
            "Three KRaft nodes (combined broker and controller, `scripts/infra/kafka-cluster.sh`,",
            "512 MiB heaps, Kafka's default `broker.session.timeout.ms` of 9 s); every topic at",
            "3 partitions, 3 replicas and `min.insync.replicas=2` through the settings",
            "(`STOCKSYNC_TOPIC_REPLICATION_FACTOR`, `STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS`); the",
            "producers are idempotent with acks=all. Redis is a Redis Cluster of its own, three",
            "masters with one replica each (`scripts/infra/redis-cluster.sh`, ADR 0029; runs",
            "before 2026-12-06 15:00 UTC used a database of one Redis), and the happy path is",
            "the stream with no fault on it. The same kind of seeded workload and the",
            "same oracle as above: a delivery every 0.2 s, the fault after the first 20, the",
            "stream going on through it and ending 20 deliveries after it (**events in**:",
            "what was sent; **accepted during the fault**: from the kill, or the first",
            "restart, until the cluster was whole again).",
            "",
            "- **load**: the machine's 1-minute load average when the fault began (2 cores);",
            "- **leaders elected after**: from the SIGKILL until no partition is led by the",
            "  killed node (the controller fences it once its heartbeats stop for",
            "  `broker.session.timeout.ms`, then moves its leaderships);",
            "- **503s**: the sender's refused attempts from the fault on; **503 window**: from",
            "  the first of them until a delivery was accepted after the last (in brackets:",
            "  the first and the last, seconds after the kill; the receiver answers 503 when",
            "  the broker has not acknowledged within its 5 s publish timeout, and the sender",
            "  backs off 0.2 s doubling to 2 s, so the window is that coarse); **accepted",
            "  again after**: seconds from the kill until then;",
            "- **restart**: `kafka-cluster.sh restart` until the node is ready again;",
            "  **replicas in sync after**: from then until no partition is under-replicated;",
            "- **time to recover**: from the heal (the node back in sync) until quiescence, the",
            "  stream's last 20 deliveries (about 4 s) sent in between.",
        ],
        rows,
    )


def _sections(text: str) -> tuple[str, str, str]:
    """``text`` cut into the fault suite's part, the broker section and the Redis master's
    section (each "" when absent); the reproduce block is written again."""
    body = text.partition(REPRODUCE_HEADING)[0]
    body, _, redis = body.partition(REDIS_HEADING)
    head, _, brokers = body.partition(CLUSTER_HEADING)
    return (
        head,
        CLUSTER_HEADING + brokers if brokers else "",
        REDIS_HEADING + redis if redis else "",
    )


def is_redis_case(f: dict[str, Any]) -> bool:
    return "promoted_s" in f["fired"]["injected"]


def lacked(inj: dict[str, Any]) -> str:
    """What the promoted replica lacked, when the case forced a loss (its replica paused
    behind a filler before the SIGKILL): "none forced" for a plain kill."""
    u = inj.get("unreplicated")
    if not u:
        return "none forced"
    writes = sum(max(0, at_kill - kept) for kept, at_kill in u["versions"].values())
    return (
        f"replica node {u['replica']} paused {u['paused_s']} s; "
        f"{u['unsent_bytes'] / 2**20:.1f} MiB unsent; "
        f"{len(u['skus_ahead'])} SKUs seen ahead ({writes} writes)"
    )


def rebuilt(found: dict[str, Any], repair: dict[str, Any]) -> str:
    """How many SKUs the detection found behind, and what the repair did with them."""
    behind = str(len(found.get("lost", []))) if found else "-"
    if not repair:
        return behind
    return (
        f"{behind} ({repair.get('skus', 0)} rebuilt, "
        f"{repair.get('commands_replayed', 0)} commands replayed, "
        f"{repair.get('keys_remarked', 0)} keys re-marked)"
    )


def render_redis(doc: dict[str, Any]) -> str:
    """The Redis master's section (tests/cluster's figures for its SIGKILL)."""
    rows = [
        ["case", "load", "events in", "accepted", "applied", "lost", "double-applied", "master",
         "what its replica lacked", "promoted after (s)", "503s", "503 window (s)",
         "restart (s)", "SKUs checked", "behind (rebuilt)", "detection (s)",
         "time to recover (s)", "result"],
        ["---", *["---:"] * 6, "---", "---", *["---:"] * 8, "---"],
    ]  # fmt: skip
    for f in doc["faults"]:
        inj, out = f["fired"]["injected"], f["detail"].get("outage", {})
        window = "none"
        if out.get("window_s") is not None:
            window = f"{out['window_s']} ({out['first_s']}-{out['last_s']})"
        found = inj.get("detected") or {}
        cells = [
            f["fault"], str(f["detail"].get("load_avg_1m", "-")),
            *(str(f[k]) for k in ("events_in", "accepted", "applied", "lost", "double_applied")),
            f"node {inj['node']}, slots {inj.get('slots', '?')}", lacked(inj),
            str(inj["promoted_s"]), str(out.get("refused", 0)), window, str(inj["restart_s"]),
            str(found.get("checked", "-")), rebuilt(found, inj.get("repair") or {}),
            str(found.get("s", "-")), str(f["recover_s"]), verdict(f),
        ]  # fmt: skip
        rows.append(cells)
    machine = doc["machine"]
    return _section(
        REDIS_HEADING,
        [
            'Produced by `tests/cluster` (`CLUSTER_SET=all`, the case "SIGKILL a Redis master")',
            "and `scripts/faults/report.py --cluster`; do not edit by hand. Run at",
            f"{doc['run_at']} on {machine['cpus']} CPUs (`{machine['uname']}`), workload scale",
            f"{doc['scale']}; the **load** column as above.",
            "",
            "The same stream and oracle as the broker cases, on the same clusters. A master",
            "(`redis-cluster.sh kill`) is SIGKILLed under the stream. Its replica is promoted,",
            "then the node is restarted and rejoins as a replica. Then the runbook of ADR 0029",
            "runs:",
            "",
            "1. `stocksync-inventory-rebuild --detect --slots <its slots>`, read only;",
            "2. if SKUs are behind their latest levels record, the adjuster is stopped,",
            "   `--skus <them>` is run and the adjuster is started again.",
            "",
            "- **what its replica lacked**: a plain SIGKILL forces no loss (its replica has",
            "  usually read every write). The forced-loss case pauses (SIGSTOP) the replica of",
            "  the master holding most SKUs, writes a 32 MiB filler to that master (more than",
            "  the loopback socket's buffers), waits until the adjuster has applied a command on",
            "  one of its SKUs, then SIGKILLs the master and resumes the replica: the stream",
            "  the master still held (**unsent**) is lost. **SKUs seen ahead**: those whose",
            "  state version on the master just before the kill was above the promoted",
            "  replica's once it served (**writes**: those differences, summed). A lower bound:",
            "  the adjuster may have applied commands on the replica before it was read;",
            "- **promoted after**: from the SIGKILL until no node lists the killed one as a",
            "  master and every slot is served;",
            "- **503s** and **503 window**: as above. The receiver's dedupe ledger is in",
            "  Redis, so a write to the lost master's slots fails until the promotion;",
            "- **restart**: `redis-cluster.sh restart` until the cluster is ok again;",
            "- **SKUs checked**: SKUs of those slots with a levels record;",
            "- **behind (rebuilt)**: how many the detection found; in brackets, when any,",
            "  the repair's report: SKUs whose levels were restored, the later commands",
            "  replayed and the covered commands' idempotency keys written again;",
            "- **time to recover**: from the restart and the runbook until quiescence.",
        ],
        rows,
    )


def main(argv: list[str]) -> None:
    cluster = len(argv) > 1 and argv[1] == "--cluster"
    args = argv[2:] if cluster else argv[1:]
    name = "cluster-latest.json" if cluster else "latest.json"
    src = Path(args[0]) if args else ROOT / ".work" / "faults" / name
    out = Path(args[1]) if len(args) > 1 else ROOT / "docs" / "reliability.md"
    head, brokers, redis = _sections(out.read_text() if out.exists() else "")
    doc = json.loads(src.read_text())
    if cluster:
        if not head.strip():
            raise SystemExit(f"{out}: no fault suite page to add the cluster section to")
        broker_cases = [f for f in doc["faults"] if not is_redis_case(f)]
        redis_cases = [f for f in doc["faults"] if is_redis_case(f)]
        if broker_cases:
            brokers = render_cluster({**doc, "faults": broker_cases})
        if redis_cases:
            redis = render_redis({**doc, "faults": redis_cases})
        parts = [head.rstrip("\n"), *(s.rstrip("\n") for s in (brokers, redis) if s)]
        text = "\n\n".join(parts) + "\n\n" + REPRODUCE_BLOCK
    else:
        text = render(doc, "\n\n".join(s.rstrip("\n") for s in (brokers, redis) if s))
    out.write_text(text)
    print(f"wrote {out}")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main(sys.argv)
