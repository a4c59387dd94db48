"""Each service's Redis ACL user covers every key the service builds (#22, ADR 0027).

Two drift checks: every key builder we know of, called, gives a key its service may write;
and every key-like string literal in a service's source (``"prefix:..."`` or an f-string
starting so) is either covered by its service's declared keys or named here as not a key (an
idempotency key, a hash field, a task name), so a new key prefix fails here until its
service declares it. Also: no Lua script builds a key name, a service may run scripts
exactly when its source does, and the committed ACL file equals the generator's output.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from unit.deploy.test_k8s_production import load_generator

from inventory_adjuster.adapters import kits as adjuster_kits
from inventory_adjuster.adapters import redis_store as adjuster
from inventory_adjuster.entrypoints.admin import job_key as import_job_key
from notifier.adapters.alerts_log import AlertLog
from notifier.adapters.digests import Digests, digest_key
from notifier.adapters.outbox import Outbox
from notifier.adapters.quiet import QuietPeriods
from notifier.adapters.rules_store import RulesStore
from notifier.adapters.state import state_key as notifier_state_key
from notifier.settings import Settings as NotifierSettings
from ops_console.sessions import RedisSessions
from order_consumer.adapters.redis_orders import erased_shop_key, order_key, skumap_key
from order_consumer.compliance import report_key
from shopify_sync import fulfillment_mover, jobs_runner, mapping_import
from shopify_sync.adapters import (
    exposures,
    intents,
    jobs,
    pending_memberships,
    propagation_journal,
    redis_catalog,
    redis_state,
)
from stocksync_common.dlq.admin import state_key as dlq_state_key
from stocksync_common.events import InventoryCommand
from stocksync_common.redis_keys import RedisKeys, acl_rules, with_common
from stocksync_common.topics import registered_services
from webhook_receiver.adapters import ledger, parked
from wms_connector.adapters.order_state import key as wms_order_key

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"


def keys_of(service: str) -> RedisKeys:
    found = registered_services()[service].redis
    assert found is not None, f"{service} declares no Redis keys"
    return found


def _cmd() -> InventoryCommand:
    return InventoryCommand.model_validate(
        {
            "command": "reserve",
            "sku": "S",
            "location": "l",
            "quantity": 1,
            "idempotency_key": "k",
        }  # fmt: skip
    )


class _NoRedis:
    """Enough of a client to build the adapters whose keys are asked for."""

    def register_script(self, _script: str) -> None:
        return None


def _notifier_keys() -> list[str]:
    prefix = NotifierSettings.model_construct().notifier_key_prefix
    outbox = Outbox(_NoRedis(), "slack", prefix)  # type: ignore[arg-type]
    return [
        *outbox.keys,
        AlertLog(None, {}, prefix).status_key("a"),  # type: ignore[arg-type]
        AlertLog(None, {}, prefix).recent_key,  # type: ignore[arg-type]
        Digests(None, prefix).schedule_key,  # type: ignore[arg-type]
        digest_key("S", prefix),
        notifier_state_key("S", prefix),
        RulesStore(None, prefix).rules_key,  # type: ignore[arg-type]
        RulesStore(None, prefix).rev_key,  # type: ignore[arg-type]
        f"{prefix}:{{S}}:velocity",  # notifier.adapters.state.VelocityWindow (inline)
        QuietPeriods(_NoRedis(), prefix).key("unmapped:shop", "unmapped_line"),  # type: ignore[arg-type]
    ]


# Every key builder, by the service that writes its keys (read-only uses are below).
WRITTEN: dict[str, Callable[[], list[str]]] = {
    "inventory-adjuster": lambda: [
        *adjuster.script_head_keys(_cmd()),
        adjuster.offsets_key("inventory-adjuster"),
        adjuster.hold_key(_cmd()),
        adjuster.waiting_key("S"),
        adjuster.waited_key("S"),
        adjuster_kits.KIT_DEFS,
        adjuster_kits.KIT_INDEX,
        import_job_key("j"),
    ],
    "order-consumer": lambda: [
        order_key("shop", "1"),
        erased_shop_key("shop"),
        report_key("r"),
        ledger.seen_key("shop", "d"),  # erased on shop/redact
    ],
    "shopify-sync": lambda: [
        jobs_runner.ACTIVE_KEY,
        jobs.LOCK_KEY,
        jobs.job_key("j"),
        mapping_import.input_key("t"),
        intents.intents_key("shop"),
        exposures.exposure_key("S"),
        pending_memberships._by_product("shop", "p"),  # noqa: SLF001
        pending_memberships._by_collection("shop", "c"),  # noqa: SLF001
        *(
            f("shop")
            for f in (
                redis_catalog.catalog_key,
                redis_catalog.skumap_key,
                redis_catalog.absent_key,
                redis_catalog.products_key,
                redis_catalog.meta_key,
                redis_state.pending_key,
                redis_state.known_key,
                redis_state.stamp_key,
                redis_state.seq_key,
            )
        ),  # fmt: skip
        propagation_journal._key("journal", "shop"),  # noqa: SLF001
        "sync:lane:{shop}",  # bootstrap's lane lease (inline)
        "sync:job-lease:{j}",  # jobs_runner (inline)
        "sync:fulfilled:{shop}:1",  # fulfillments (inline)
        fulfillment_mover.routed_key("shop", "1"),
    ],
    "webhook-receiver": lambda: [
        ledger.seen_key("shop", "d"),
        ledger.rate_key("shop", 1),
        parked.COUNT_KEY,
        parked.RECENT_KEY,
    ],
    "wms-connector": lambda: [wms_order_key("ref")],
    "notifier": _notifier_keys,
    "ops-console": lambda: [
        RedisSessions.key("sid"),
        "accounts:users",
        "accounts:user:a",
        "accounts:tokens:a",
        "accounts:token:t",
        "accounts:failures:user:a",
        "accounts:failures:addr:1.2.3.4",
    ],  # fmt: skip
}
READ_ONLY = {"order-consumer": lambda: [skumap_key("shop")]}


@pytest.mark.parametrize("service", sorted(WRITTEN))
def test_each_key_a_service_builds_is_one_its_redis_user_may_write(service: str) -> None:
    keys = keys_of(service)
    missing = [k for k in WRITTEN[service]() if not keys.covers(k, write=True)]
    assert not missing, f"{service}'s Redis user may not write {missing}: declare them"
    readable = READ_ONLY.get(service, list)()
    assert all(keys.covers(k, write=False) for k in readable)


def test_every_service_that_uses_redis_is_checked_here() -> None:
    assert {s for s, r in registered_services().items() if r.redis} == set(WRITTEN)


def test_libs_common_keys_every_service_needs() -> None:
    for service in WRITTEN:
        found = registered_services()[service]
        keys = keys_of(service)
        assert keys.covers("accounts:token:t", write=False)  # user tokens on its admin API
        for topic in found.dlq_topics():  # replay marks of its own dead letters only
            assert keys.covers(dlq_state_key(topic), write=True)
    receiver = keys_of("webhook-receiver")
    assert not receiver.covers(dlq_state_key("orders.v1.dlq.wms-connector-orders"), write=True)
    for service in WRITTEN:  # the bearer throttle on its admin API counts failures
        assert keys_of(service).covers("accounts:bearer:addr:10.0.0.1", write=True)


def test_services_are_refused_each_others_keys() -> None:
    assert not keys_of("webhook-receiver").covers("inv:{S}", write=True)
    assert not keys_of("notifier").covers("sync:pending:{shop}", write=True)
    assert not keys_of("order-consumer").covers("skumap:{shop}", write=True)  # reads it only
    assert not keys_of("shopify-sync").covers("accounts:token:t", write=True)
    assert keys_of("ops-console").covers("accounts:token:t", write=True)


# Key-like literals that are not Redis keys, per service, and what they are.
NOT_KEYS = {
    "inventory-adjuster": {"import:", "kit:", "reshare:"},  # idempotency keys (of changes too)
    "notifier": {"delivery:", "unmapped:"},  # a dead letter's reason, an alert's subject
    "order-consumer": {
        # facts and idempotency keys inside an order's state, and skumap's hash fields
        "edit:",
        "fulfillment:",
        "refund:",
        "rev:",
        "rereserved:",
        "line:",
        "oversold:",
        "routed:",
        "shopify:",
        "variant:",
    },  # fmt: skip
    "shopify-sync": {
        "collection:",
        "collection-image:",  # a hash field of sync:catalog-wrote:{<shop>}
        "inventory_item:",
        "variant:",  # hash fields
        "handle:",
        'sku:"',  # search queries
        "job:",
        "lane:",
        "reconcile:",  # task names
        "locations:",  # YAML
        "adjust:",  # part of an adjustment's idempotency key
    },  # fmt: skip
    "webhook-receiver": {"done:", "pending:"},  # ledger values
    "wms-connector": {"wms:", "wms-reconcile:"},  # idempotency keys
}
KEYISH = re.compile(r"^[a-z][a-z0-9_-]*:\S*$")


def _literals(source: str) -> set[tuple[str, bool]]:
    """(leading text, whether more follows it) of every string or f-string that looks like
    ``prefix:...``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            head = ""
            for part in node.values:
                if not isinstance(part, ast.Constant):
                    break
                head += str(part.value)
            text, more = head, len(node.values) > 1 or head == ""
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text, more = node.value, False
        else:
            continue
        text, brace, _ = text.partition("{")
        if KEYISH.match(text) and "://" not in text and not text.endswith(":*"):
            found.add((text, more or bool(brace)))
    return found


@pytest.mark.parametrize("service", sorted(WRITTEN))
def test_every_key_like_literal_is_covered_or_named_as_no_key(service: str) -> None:
    keys = keys_of(service)
    src = next((SERVICES / service / "src").iterdir())
    uncovered = set()
    for path in src.rglob("*.py"):
        for text, more in _literals(path.read_text()):
            if text in NOT_KEYS.get(service, set()):
                continue
            if not keys.covers(text + ("x" if more else ""), write=False):
                uncovered.add(f"{path.name}: {text!r}")
    assert not uncovered, (
        f"{service} builds keys its Redis user may not touch: declare them in its bootstrap's "
        f"redis_keys (or add them to NOT_KEYS here if they are no Redis key): {sorted(uncovered)}"
    )


def test_the_acl_rules_refuse_admin_and_dangerous_commands_and_allow_lua_where_run() -> None:
    rules = acl_rules(with_common(RedisKeys(writes=("a:*",), reads=("b:*",)), ["t.dlq.g"]))
    assert rules[:3] == ["resetkeys", "resetchannels", "-@all"]
    assert "-@admin" in rules and "-@dangerous" in rules and "+evalsha" not in rules
    assert [
        "~a:*", "~accounts:bearer:*", "~dlq:state:{t.dlq.g}", "%R~b:*", "%R~accounts:*",
        "%R~dlq:redactions",  # the DLQ API reads the compliance erasures
    ] == [r for r in rules if "~" in r]  # fmt: skip
    assert "+evalsha" in acl_rules(RedisKeys(scripts=True))


def test_the_committed_redis_acl_file_is_the_generators_output() -> None:
    committed = (ROOT / "deploy" / "redis" / "acl-users.txt").read_text()
    assert committed == load_generator().render_redis_users(), (
        "run `uv run python deploy/k8s/generate_topics.py`"
    )


CALL = re.compile(r"redis\.p?call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")
ASSIGN = re.compile(r"^\s*(?:local\s+)?([\w\s,]+?)\s*=\s*(.+)$", re.MULTILINE)


def _built(text: str, first: str) -> bool:
    """Whether a call's first argument is a key the script makes itself: a literal, a join,
    or a variable every assignment of which is made without KEYS (a function's parameter,
    never assigned, is checked where the function is called with KEYS)."""
    if "'" in first or '"' in first or ".." in first:
        return True
    if not re.fullmatch(r"\w+", first):
        return False
    sources = [rhs for lhs, rhs in ASSIGN.findall(text) if first in re.split(r"\s*,\s*", lhs)]
    return bool(sources) and not any("KEYS[" in rhs for rhs in sources)


LIBS = ROOT / "libs" / "common" / "src"


def _lua_sources() -> dict[str, str]:
    """Every Lua script of the services and libs/common: the .lua files and Python strings
    that call Redis."""
    found = {str(p.relative_to(ROOT)): p.read_text() for p in SERVICES.rglob("*.lua")}
    for path in [*SERVICES.rglob("src/**/*.py"), *LIBS.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and "redis.call" in str(node.value):
                found[f"{path.relative_to(ROOT)}:{node.lineno}"] = str(node.value)
    return found


def test_a_script_that_builds_a_key_is_found() -> None:
    assert _built("redis.call('GET', 'a:' .. ARGV[1])", "'a:' .. ARGV[1]")
    assert _built("local k = 'a:' .. ARGV[1]\nredis.call('GET', k)", "k")
    assert not _built("local s, l = KEYS[2], KEYS[3]\nredis.call('GET', l)", "l")


def test_lua_scripts_take_their_keys_from_keys_never_build_them() -> None:
    """Redis checks each redis.call of a script against the caller's key patterns, but a key
    built inside the script (a literal, or joined with ``..``) is invisible to the service's
    declaration and to Redis Cluster's slot check: every key must come in through KEYS."""
    sources = _lua_sources()
    assert len(sources) >= 6  # apply, kit, save_order, and the inline ones
    built = [
        f"{where}: redis.call('{command}', {first.strip()})"
        for where, text in sources.items()
        for command, first in CALL.findall(text)
        if first and _built(text, first.strip())
    ]
    assert not built, f"scripts that build key names: {built}"


LUA_CALLS = ("register_script", "evalsha", "script_load", ".eval(")
# libs/common modules that run Lua on keys a service may write: the accounts store's
# touch_token (the ops console's sessions)
LIB_LUA = {"accounts:token:t": LIBS / "stocksync_common" / "accounts" / "store.py"}


@pytest.mark.parametrize("service", sorted(WRITTEN))
def test_a_service_may_run_scripts_exactly_when_its_source_runs_lua(service: str) -> None:
    keys = keys_of(service)
    src = SERVICES / service / "src"
    runs_lua = any(word in path.read_text() for path in src.rglob("*.py") for word in LUA_CALLS)
    runs_lua |= any(
        keys.covers(key, write=True) and any(word in path.read_text() for word in LUA_CALLS)
        for key, path in LIB_LUA.items()
    )
    assert keys.scripts == runs_lua
