"""Sustained throughput (knee) of the whole system, and the ceiling of a bare loop, in one run.

    uv run python -m bench.knee [--rates 250,500,...,16000] [--step-s 10] [--skus 2000]
        [--producers 2] [--no-ceiling] [--generator-only] [--bootstrap ...] [--redis-url ...]
        [--port-offset 10000] [--profile] [--smoke] [--no-doc]

Three phases on the same broker and Redis, one after another so they never share the CPU:

1. **The generator alone**: :class:`bench.load.CommandGenerator` (``--producers`` producer
   processes) offers twice the highest rate onto a topic nobody reads; it must produce at
   least 1.5 times the highest rate, or the steps below measure the generator, not the
   system (``--generator-only`` runs just this).
2. **The system** (``SYSTEM`` of bench.live, as processes): ``adjust`` commands (+1 to one of
   ``--skus`` SKUs, each a new idempotency key) onto ``inventory.commands.v1`` at each rate
   for ``--step-s`` seconds; inventory-adjuster applies them and publishes the changes,
   shopify-sync coalesces them into writes to the simulated stores. Applied: the adjuster's
   metric. The system is stopped afterwards.
3. **The ceiling** (``bench.ceiling``, one process, topics and keys of its own): the same
   commands at the same rates. Applied: its consumer group's committed offsets. Measured on
   one Redis node only: with ``--redis-url redis+cluster://...`` (the system's Redis on a
   Redis Cluster, whose one database the bench empties first) the run skips it and says so,
   as the bare loop's script writes the group's offsets hash beside the SKU's keys (two hash
   slots in one script, which a cluster refuses).

A step whose backlog grew by more than half a second of its rate (produced minus applied,
``grace_s`` after the step) means lag grows without bound; each phase stops there, and its
figure is the best produced rate of the steps before it kept up with. The report gives the
knee, the ceiling and knee / ceiling (target: knee >= 12,000/s, ratio >= 0.6), and what the
generator produced at every step. Exit status 1 only if commands were lost (the system
applied fewer than were produced, or the ceiling's counters disagree with what it consumed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from bench import ceiling, load
from bench.cpu import CpuMeter, infra_pids, per_command
from bench.live import (
    SYSTEM,
    Infra,
    Stack,
    add_infra_args,
    add_service_env_arg,
    infra_of,
    redis_layout,
    running_stack,
    sample_metric,
    store_gids,
)
from bench.prepare import load_catalog, wait_until
from bench.profile import hotspots, spy
from bench.report import (
    ROOT,
    finish,
    machine,
    machine_line,
    now_utc,
    table,
    with_db,
    write_results,
)
from stocksync_common.kafka import env_security, stop_consumer
from stocksync_common.redis_client import cluster_url
from stocksync_common.topics import INVENTORY_CHANGED, INVENTORY_COMMANDS
from stocksync_common.transport import kafka_options

SCENARIO = "knee"
TARGET = 12_000
TARGET_RATIO = 0.6
GENERATOR_OFFERED = 2.0  # the generator alone is offered this times the highest rate ...
GENERATOR_REQUIRED = 1.5  # ... and must produce at least this times it
SHORT = 0.95  # a step that produced less than this share of its rate: the generator lagged
APPLIED = "stocksync_inventory_commands_total"
GRACE_S = 2.0
SYSTEM_DB, CEILING_DB = 8, 9


@dataclass(frozen=True)
class Options:
    # 500/s apart from 1,000 to 4,000/s: the knee has sat between 2,000 and 4,000/s, where
    # steps of 2,000 made a run either side of one line double or halve the figure
    rates: tuple[int, ...] = (
        250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 6000, 8000, 12000, 16000,
    )  # fmt: skip
    step_s: float = 10.0
    skus: int = 2000
    profile: bool = False  # py-spy on the hottest services during the system's steps
    grace_s: float = GRACE_S  # after a step, for what is in flight to drain
    producers: int = 2  # generator processes
    ceiling: bool = True
    service_env: tuple[tuple[str, str], ...] = ()  # STOCKSYNC_* settings for the system


CLUSTER_NO_CEILING = (
    "the ceiling is measured on one Redis node only (bench/ceiling.py's script writes the "
    "group's offsets hash beside the SKU's keys, two hash slots in one script, which a Redis "
    "Cluster refuses): this run measures the system alone"
)


def on_redis(opts: Options, redis_url: str) -> tuple[Options, dict[str, Any]]:
    """The options of a run on ``redis_url`` and what the report says of its Redis: on a
    Redis Cluster (a ``+cluster`` URL) the ceiling is off, with the reason."""
    if cluster_url(redis_url) is None:
        return opts, {"cluster": False, "note": None}
    note = CLUSTER_NO_CEILING if opts.ceiling else None
    return replace(opts, ceiling=False), {"cluster": True, "note": note}


PROFILED = ("webhook-receiver", "order-consumer", "inventory-adjuster", "shopify-sync", "notifier")
SMOKE = Options(rates=(200, 400), step_s=1.5, skus=50, grace_s=1.0)


# --- judging steps (pure) ---------------------------------------------------------------


def judge(
    rate: int, produced: load.Produced, applied: float, seconds: float, applied_by_grace: float
) -> dict[str, Any]:
    """A step's figures: ``applied`` during the ``seconds`` of producing, ``applied_by_grace``
    by ``grace_s`` after. More than half a second of the rate left over means the backlog
    grows without bound."""
    backlog = produced.sent - applied_by_grace
    return {
        "rate": rate,
        "produced": produced.sent,
        "produced_per_s": produced.per_s,
        "generator_short": produced.per_s < SHORT * rate,
        "applied_per_s": round(applied / seconds, 1) if seconds > 0 else 0.0,
        "backlog_added": backlog,
        "unbounded": backlog > rate / 2,
    }


def sustained(steps: Sequence[dict[str, Any]]) -> float:
    """The highest produced rate among the steps that kept up (0 if none did)."""
    return max((s["produced_per_s"] for s in steps if not s["unbounded"]), default=0.0)


def reached(steps: Sequence[dict[str, Any]]) -> bool:
    """Whether a step fell behind: the figure is a limit, not a lower bound."""
    return any(s["unbounded"] for s in steps)


def ratio(knee: float, knee_reached: bool, top: float, top_reached: bool) -> dict[str, Any]:
    """knee / ceiling, with what it is: ``=`` when both fell behind at some step; ``<=``
    when only the system did (the ceiling is above its figure); ``>=`` when only the ceiling
    did (the knee is above its figure); unknown (``None``) when neither did or nothing kept
    up."""
    if top <= 0 or knee <= 0 or not (knee_reached or top_reached):
        return {"value": None, "bound": None}
    bound = "=" if knee_reached and top_reached else "<=" if knee_reached else ">="
    return {"value": round(knee / top, 3), "bound": bound}


def ratio_verdict(r: dict[str, Any], target: float = TARGET_RATIO) -> str:
    """met, not met, or unknown (a bound that does not decide it)."""
    value, bound = r["value"], r["bound"]
    if value is None:
        return "unknown"
    if bound == "=":
        return "met" if value >= target else "not met"
    if bound == ">=":
        return "met" if value >= target else "unknown"
    return "not met" if value < target else "unknown"


def ratio_text(r: dict[str, Any]) -> str:
    if r["value"] is None:
        return "not measured (neither fell behind, or nothing kept up)"
    prefix = {"=": "", "<=": "at most ", ">=": "at least "}[r["bound"]]
    return f"{prefix}{r['value']:.2f}"


def phase_line(name: str, steps: Sequence[dict[str, Any]], unit: str = "commands/s") -> str:
    """The sentence that gives a phase's figure."""
    figure = sustained(steps)
    over = next((s for s in steps if s["unbounded"]), None)
    if over is None:
        top = max((s["produced_per_s"] for s in steps), default=0.0)
        return (f"{name}: **not reached**, it kept up with every step up to {top:,.0f}/s "
                f"produced: above **{figure:,.0f} {unit}**")  # fmt: skip
    return (f"{name}: **{figure:,.0f} {unit}** sustained (the highest rate it kept up with); "
            f"at {over['rate']:,}/s offered it applied {over['applied_per_s']:,.0f}/s and "
            "fell behind")  # fmt: skip


def progress(phase: str, s: dict[str, Any]) -> str:
    """One line per step while the bench runs: what was offered, produced and applied."""
    short = " (generator short of the rate)" if s["generator_short"] else ""
    return (f"knee {phase}: {s['rate']:,}/s offered, {s['produced_per_s']:,.0f}/s produced"
            f"{short}, {s['applied_per_s']:,.0f}/s applied, backlog {s['backlog_added']:,.0f} "
            f"-> {'grows' if s['unbounded'] else 'bounded'}")  # fmt: skip


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Target:
    """What a phase feeds and how it reads what was applied (a counter) and the lag."""

    name: str
    topic: str
    skus: list[str]
    applied: Callable[[], Awaitable[float]]
    lag: Callable[[], Awaitable[int]]
    extra: Callable[[], Awaitable[dict[str, Any]]] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    cpu: CpuMeter | None = None  # CPU per process while each step produces


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """End offsets minus the group's committed offsets, summed over partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        # the partitions the group has committed on (after the catalog load, all of them)
        parts = [tp for tp in committed if tp.topic == topic]
        ends = await consumer.end_offsets(parts) if parts else {}
        return sum(end - committed[tp].offset for tp, end in ends.items())
    finally:
        await admin.close()
        await stop_consumer(consumer)


async def step(
    target: Target, gen: load.CommandGenerator, rate: int, seconds: float, grace_s: float
) -> dict[str, Any]:
    before, t0 = await target.applied(), time.monotonic()
    lag_start = await target.lag()
    if target.cpu:
        target.cpu.start()
    produced = await asyncio.to_thread(gen.produce, target.topic, target.skus, rate, seconds)
    cpu = target.cpu.stop() if target.cpu else {}
    after, t1 = await target.applied(), time.monotonic()
    lag_end = await target.lag()
    extra = await target.extra() if target.extra else {}
    # A bounded system drains what is in flight within a moment of the load stopping; a
    # backlog of more than half a second of the rate left after the grace is one that grows.
    await asyncio.sleep(grace_s)
    by_grace = await target.applied() - before
    judged = judge(rate, produced, after - before, t1 - t0, by_grace)
    costs = {"cpu": cpu, "cpu_per_command": per_command(cpu, produced.per_s)} if cpu else {}
    return judged | {"lag_start": lag_start, "lag_end": lag_end, **extra, **costs}


async def run_steps(target: Target, gen: load.CommandGenerator, opts: Options) -> None:
    for rate in opts.rates:
        target.steps.append(await step(target, gen, rate, opts.step_s, opts.grace_s))
        print(progress(target.name, target.steps[-1]), file=sys.stderr)  # noqa: T201
        if target.steps[-1]["unbounded"]:
            break


async def drain(target: Target, start: float, produced: int, timeout_s: float = 180) -> float:
    """Seconds until everything produced was applied (-1 if not within ``timeout_s``)."""

    async def drained() -> bool:
        return bool(await target.applied() - start >= produced)

    try:
        return await wait_until(f"{target.name} backlog applied", drained, timeout_s)
    except TimeoutError:
        return -1.0


async def generator_alone(
    gen: load.CommandGenerator, bootstrap: str, opts: Options, leftovers: list[str]
) -> dict[str, Any]:
    """The generator on a topic of its own that nobody reads, at twice the highest rate
    (the topic goes to ``leftovers``, deleted once the generator's producers are closed:
    they would keep asking the broker for its metadata)."""
    offered = int(GENERATOR_OFFERED * max(opts.rates))
    required = GENERATOR_REQUIRED * max(opts.rates)
    topic = f"bench.knee.generator.{uuid.uuid4().hex[:10]}"
    leftovers.append(topic)
    await ceiling.create_topics(bootstrap, [topic])
    skus = [f"GEN-{i:05d}" for i in range(opts.skus)]
    produced = await asyncio.to_thread(gen.produce, topic, skus, offered, opts.step_s)
    print(f"knee generator alone: {offered:,}/s offered, {produced.per_s:,.0f}/s produced "  # noqa: T201
          f"(needs {required:,.0f}/s) by {gen.processes} processes", file=sys.stderr)  # fmt: skip
    return {"offered_per_s": offered, "produced": produced.sent, "produced_per_s": produced.per_s,
            "required_per_s": required, "met": produced.per_s >= required,
            "processes": gen.processes}  # fmt: skip


async def applied_by(http: httpx.AsyncClient, adjuster: str) -> float:
    text = (await http.get(f"{adjuster}/metrics")).text
    return sample_metric(text, APPLIED, {"command": "adjust"})


async def measure(
    stack: Stack,
    bootstrap: str,
    opts: Options,
    gen: load.CommandGenerator | None = None,
    infra_procs: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The steps on a running system (any earlier runs used other SKUs); ``infra_procs``
    (the broker's and redis-server's pids) are metered with the stack's processes."""
    if gen is None:
        with load.CommandGenerator(bootstrap, opts.producers) as own:
            return await measure(stack, bootstrap, opts, own, infra_procs)
    cat = load.catalog(f"KN{uuid.uuid4().hex[:6]}", opts.skus, 0, 0, 1000)
    sim, adjuster = stack.url("shopify-sim"), stack.url("inventory-adjuster")
    async with httpx.AsyncClient(timeout=30) as http:
        await load_catalog(http, sim, adjuster, store_gids(), cat)

        async def sync_lag() -> dict[str, Any]:
            lag = await group_lag(bootstrap, "shopify-sync", INVENTORY_CHANGED)
            return {"shopify_sync_lag_end": lag}

        target = Target(
            "system", INVENTORY_COMMANDS, cat.cold, lambda: applied_by(http, adjuster),
            lambda: group_lag(bootstrap, "inventory-adjuster", INVENTORY_COMMANDS), sync_lag,
            cpu=CpuMeter({**{n: p.pid for n, p in stack.procs.items()}, **(infra_procs or {})}),
        )  # fmt: skip
        start_applied = await target.applied()
        pids = {n: stack.procs[n].pid for n in PROFILED if n in stack.procs}
        profiling: AbstractContextManager[dict[str, Path]] = (
            spy(pids, ROOT / ".work" / "bench" / "profiles") if opts.profile else nullcontext({})
        )
        with profiling as files:
            await run_steps(target, gen, opts)
        profiles = {name: hotspots(path) for name, path in files.items()}
        produced = sum(s["produced"] for s in target.steps)
        drain_s = await drain(target, start_applied, produced)
        total = await target.applied() - start_applied
    failures = [] if total == produced else [f"applied {total:.0f} of {produced} commands"]
    return {"options": asdict(opts), "steps": target.steps, "knee_per_s": sustained(target.steps),
            "drain_s": drain_s, "applied": total, "produced": produced, "failures": failures,
            "profiles": profiles}  # fmt: skip


async def measure_ceiling(
    infra: Infra, opts: Options, gen: load.CommandGenerator, leftovers: list[str]
) -> dict[str, Any]:
    """The same steps through the bare loop of bench.ceiling, on topics and keys of its own
    (its keys deleted at the end, its topics added to ``leftovers``)."""
    names = ceiling.Names(f"bench.ceiling.{uuid.uuid4().hex[:10]}")
    skus = [f"CE-{i:05d}" for i in range(opts.skus)]
    redis_url = with_db(infra.redis_url, CEILING_DB)
    leftovers.extend(names.topics())
    await ceiling.create_topics(infra.bootstrap, names.topics())
    log = ROOT / ".work" / "bench" / SCENARIO / "ceiling.log"
    proc = await asyncio.to_thread(ceiling.start, infra.bootstrap, redis_url, names, log)
    redis = Redis.from_url(redis_url)
    try:
        target = Target(
            "ceiling", names.commands, skus,
            lambda: _float(ceiling.committed(infra.bootstrap, names)),
            lambda: group_lag(infra.bootstrap, names.group, names.commands),
            cpu=CpuMeter({"ceiling loop": proc.pid, **infra_pids(infra.bootstrap, redis_url)}),
        )  # fmt: skip
        await run_steps(target, gen, opts)
        produced = sum(s["produced"] for s in target.steps)
        drain_s = await drain(target, 0.0, produced)
        applied = await target.applied()
        units = await ceiling.on_hand(redis, names, skus)
    finally:
        await asyncio.to_thread(ceiling.stop, proc)
        await ceiling.drop_keys(redis, names)
        await redis.aclose()
    failures = [] if applied == units == produced else [
        f"ceiling: {produced} produced, {applied:.0f} consumed, {units} units added"
    ]  # fmt: skip
    return {"steps": target.steps, "ceiling_per_s": sustained(target.steps), "drain_s": drain_s,
            "produced": produced, "applied": applied, "units_added": units,
            "failures": failures}  # fmt: skip


async def _float(count: Awaitable[int]) -> float:
    return float(await count)


async def run(opts: Options, infra: Infra, redis: dict[str, Any]) -> dict[str, Any]:
    """The three phases; ``redis`` (:func:`on_redis`) says what the Redis is."""
    leftovers: list[str] = []  # the bench's own topics, deleted at the end
    try:
        with load.CommandGenerator(infra.bootstrap, opts.producers) as gen:
            generator = await generator_alone(gen, infra.bootstrap, opts, leftovers)
            env = dict(opts.service_env)
            with running_stack(
                infra, SCENARIO, redis_db=SYSTEM_DB, names=SYSTEM, extra_env=env
            ) as stack:
                layout = redis_layout(infra.redis_url)  # every node metered on a cluster
                procs = infra_pids(infra.bootstrap, infra.redis_url, layout.get("ports", ()))
                data = await measure(stack, infra.bootstrap, opts, gen, procs)
            # the system is stopped: the ceiling has the machine to itself, as the system had
            top = await measure_ceiling(infra, opts, gen, leftovers) if opts.ceiling else None
    finally:
        if leftovers:
            await ceiling.delete_topics(infra.bootstrap, leftovers)
    return combine(data, generator, top) | {"redis": redis | layout}


def combine(
    data: dict[str, Any], generator: dict[str, Any], top: dict[str, Any] | None
) -> dict[str, Any]:
    """The system's figures with the generator's and the ceiling's, and knee / ceiling."""
    out = data | {"generator": generator, "ceiling": top}
    if top is not None:
        out["ratio"] = ratio(data["knee_per_s"], reached(data["steps"]),
                             top["ceiling_per_s"], reached(top["steps"]))  # fmt: skip
        out["failures"] = [*data["failures"], *top["failures"]]
    return out


# --- the report ---------------------------------------------------------------------------


def steps_table(steps: Sequence[dict[str, Any]], sync: bool) -> str:
    head = ["offered/s", "produced/s", "applied/s", "lag start -> end"]
    head += ["shopify-sync lag at end"] if sync else []
    rows = []
    for s in steps:
        short = " (short)" if s.get("generator_short") else ""
        row = [f"{s['rate']:,}", f"{s['produced_per_s']:,.0f}{short}", f"{s['applied_per_s']:,.0f}",
               f"{s['lag_start']:,} -> {s['lag_end']:,}"]  # fmt: skip
        row += [f"{s['shopify_sync_lag_end']:,}"] if sync else []
        row += [f"{s['backlog_added']:,.0f}", "grows" if s["unbounded"] else "bounded"]
        rows.append(row)
    return table([*head, "backlog after grace", "lag"], rows)


def cpu_step(steps: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The step whose CPU is reported: the highest that kept up, else the first."""
    metered = [s for s in steps if s.get("cpu_per_command")]
    kept = [s for s in metered if not s["unbounded"]]
    return kept[-1] if kept else (metered[0] if metered else None)


def cpu_lines(name: str, steps: Sequence[dict[str, Any]]) -> list[str]:
    """Where the CPU of one step went: cores and microseconds per command per process."""
    s = cpu_step(steps)
    if s is None:
        return []
    cpu, per = s["cpu"], s["cpu_per_command"]
    rows = [[n, f"{cpu['cores'][n]:.2f}", f"{us:,.0f}"] for n, us in per["us"].items() if us >= 1]
    other = per["other_us"] * s["produced_per_s"] / 1e6
    rows += [["other (kernel, unnamed processes)", f"{other:.2f}", f"{per['other_us']:,.0f}"]]
    rows += [["**machine**", f"**{cpu['machine_busy_cores']:.2f}** of "
              f"{cpu['machine_cores']:.0f}", f"**{per['machine_us']:,.0f}**"]]  # fmt: skip
    return [
        "",
        f"{name}: CPU at {s['produced_per_s']:,.0f}/s (user + system time from `/proc` while "
        "the step produced; cores busy, and CPU microseconds per command):",
        "",
        table(["process", "cores", "µs / command"], rows),
    ]


def render(data: dict[str, Any], results: str) -> str:
    o, gen, top = data["options"], data["generator"], data.get("ceiling")
    met = "met" if data["knee_per_s"] >= TARGET else "**not met**"
    gen_ok = "enough" if gen["met"] else "**not enough: the generator was a limit**"
    lines = [
        f"`adjust` commands for {o['step_s']:g} s per step over {o['skus']:,} SKUs from "
        f"{gen['processes']} producer processes (`bench.load.CommandGenerator`). Alone, on a "
        f"topic nobody reads, the generator produced {gen['produced_per_s']:,.0f}/s when "
        f"offered {gen['offered_per_s']:,}/s (needs {gen['required_per_s']:,.0f}/s, 1.5 times "
        f"the highest step): {gen_ok}. A produced rate marked *(short)* fell more than 5% "
        "under its step's rate.",
        "",
        "**System** (the whole system running: the adjuster publishes every change; "
        "shopify-sync coalesces them into writes to the simulated stores):",
        "",
        steps_table(data["steps"], sync=True),
        "",
        f"{phase_line('Knee', data['steps'])}; target >= {TARGET:,}/s sustained: {met}. "
        f"Every produced command was applied ({data['applied']:,.0f} of {data['produced']:,}), "
        f"backlog drained {data['drain_s']:.1f} s after the last step.",
        *cpu_lines("System", data["steps"]),
    ]
    if top is not None:
        r = data["ratio"]
        lines += [
            "",
            "**Ceiling** (`bench/ceiling.py`, the system stopped: one process consuming the "
            "same commands from 12 partitions, one pipelined round trip of a small Lua apply "
            "per batch, two records produced per command with acks=all and idempotence, "
            "acknowledged once per batch, one commit per batch):",
            "",
            steps_table(top["steps"], sync=False),
            "",
            f"{phase_line('Ceiling', top['steps'])}. It applied {top['applied']:,.0f} of "
            f"{top['produced']:,} commands once each ({top['units_added']:,} units added).",
            *cpu_lines("Ceiling", top["steps"]),
            "",
            f"Knee / ceiling: **{ratio_text(r)}**; target >= {TARGET_RATIO}: "
            f"{ratio_verdict(r)}. Where the time goes: [profiling.md](profiling.md).",
        ]
    lines += [
        "",
        f"- Machine: {machine_line(data['machine'])}",
        f"- Redis: {redis_line(data.get('redis', {}))}",
        f"- Date: {data['date'][:16].replace('T', ' ')} UTC",
        f"- Command: `{data['command']}`",
        f"- Raw results: `{results}`",
    ]
    return "\n".join(lines)


def redis_line(redis: dict[str, Any]) -> str:
    """What the services' Redis was (one node, or a cluster and why no ceiling)."""
    if not redis.get("cluster"):
        return "one node"
    note = f"; {redis['note']}" if redis.get("note") else ""
    return (f"a Redis Cluster of {redis.get('masters', '?')} masters and "
            f"{redis.get('replicas', '?')} replicas{note}")  # fmt: skip


def brief(data: dict[str, Any]) -> dict[str, Any]:
    top = data.get("ceiling")
    return {
        "knee_per_s": data["knee_per_s"],
        "ceiling_per_s": top["ceiling_per_s"] if top else None,
        "ratio": data.get("ratio"),
        "generator_per_s": data["generator"]["produced_per_s"],
    }


async def generator_only(opts: Options, bootstrap: str) -> dict[str, Any]:
    leftovers: list[str] = []
    try:
        with load.CommandGenerator(bootstrap, opts.producers) as gen:
            return await generator_alone(gen, bootstrap, opts, leftovers)
    finally:
        await ceiling.delete_topics(bootstrap, leftovers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.knee", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default=",".join(str(r) for r in Options.rates))
    p.add_argument("--step-s", type=float, default=Options.step_s)
    p.add_argument("--skus", type=int, default=Options.skus)
    p.add_argument("--producers", type=int, default=Options.producers,
                   help="load generator processes")  # fmt: skip
    p.add_argument("--no-ceiling", action="store_true", help="skip the bare loop")
    p.add_argument("--generator-only", action="store_true",
                   help="the load generator alone (no system, no ceiling, no docs)")  # fmt: skip
    p.add_argument("--profile", action="store_true", help="py-spy the services (see profiling.md)")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-doc", action="store_true")
    add_infra_args(p)
    add_service_env_arg(p)
    args = p.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(","))
    opts = SMOKE if args.smoke else Options(rates, args.step_s, args.skus, args.profile)
    opts = Options(
        **(
            asdict(opts)
            | {
                "producers": args.producers,
                "ceiling": not args.no_ceiling,
                "service_env": tuple(args.service_env),
            }
        )
    )
    at, box = now_utc(), machine()
    infra = infra_of(args)
    opts, redis = on_redis(opts, infra.redis_url)
    if redis["note"]:
        print(f"knee: {redis['note']}", file=sys.stderr)  # noqa: T201
    if args.generator_only:
        gen = asyncio.run(generator_only(opts, infra.bootstrap))
        path = write_results(f"{SCENARIO}-generator", {"generator": gen, "machine": box}, at=at)
        print(f"{gen} -> {path}")  # noqa: T201
        return 0
    data = asyncio.run(run(opts, infra, redis))
    return finish(SCENARIO, "Sustained throughput (knee) and the ceiling", data, at=at, box=box,
                  doc=not args.no_doc, smoke=args.smoke, render=render, brief=brief)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
