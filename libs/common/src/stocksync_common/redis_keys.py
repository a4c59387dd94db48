"""The Redis keys a service may touch, and the Redis ACL user made from them (#22, ADR 0027).

Each service declares its keys next to its Kafka topics (``Service(redis_keys=RedisKeys(...))``
in its bootstrap): glob patterns it reads and writes, patterns it only reads, and whether it
runs Lua scripts. The runtime adds what every Redis-using service does through libs/common
(:func:`with_common`): the accounts store read (user tokens on the admin APIs), the
failed-bearer counters written (their throttle), and the DLQ API's replay marks of its own
dead-letter topics. :func:`acl_rules` turns that into the
rules of an ``ACL SETUSER`` (or a line of an ACL file); ``deploy/k8s/generate_topics.py``
writes them for every registered service into ``deploy/redis/acl-users.txt``, which
``scripts/infra/redis.sh`` (``REDIS_SECURITY=tls``) and a production Redis load.

Commands: the connection, read, write and transaction categories, plus ``EVALSHA``,
``EVAL``, ``SCRIPT LOAD`` and ``SCRIPT EXISTS`` (redis-py asks it before a pipeline of
scripts) for a service that runs Lua (Redis checks every ``redis.call`` of a script against
the caller's keys and commands, so a script touches only what its caller may), and ``TIME``
(inventory-adjuster's script reads the clock), minus ``@admin`` and ``@dangerous``
(``FLUSHALL``, ``KEYS``, ``CONFIG``, ``SHUTDOWN``...) and ``FUNCTION`` (``@write`` holds
``FUNCTION LOAD``/``FLUSH``; no service uses functions). No pub/sub channel: no service uses
one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

ACCOUNTS_PATTERN = "accounts:*"  # stocksync_common.accounts.store
BEARER_PATTERN = "accounts:bearer:*"  # stocksync_common.accounts.throttle: failed bearer checks
# stocksync_common.dlq.redaction: the compliance erasures every DLQ reader applies
REDACTIONS_KEY = "dlq:redactions"
USER_PREFIX = "stocksync-"
BASE_COMMANDS = ("+@connection", "+@read", "+@write", "+@transaction")
SCRIPT_COMMANDS = ("+evalsha", "+eval", "+script|load", "+script|exists", "+time")
REFUSED = ("-@admin", "-@dangerous", "-function")  # no service uses Redis functions


@dataclass(frozen=True)
class RedisKeys:
    """What a service does in Redis: ``writes`` (glob patterns it reads and writes),
    ``reads`` (patterns it only reads) and whether it runs Lua ``scripts``."""

    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    scripts: bool = False

    def covers(self, key: str, *, write: bool) -> bool:
        """Whether ``key`` matches a pattern that allows it (Redis's own glob rules for the
        ``*`` and ``?`` our patterns use)."""
        patterns = self.writes if write else (*self.writes, *self.reads)
        return any(fnmatchcase(key, p) for p in patterns)


def dlq_state_pattern(dlq_topic: str) -> str:
    """The replay marks of one dead-letter topic (``stocksync_common.dlq.admin.state_key``)."""
    from stocksync_common.dlq.admin import state_key  # dlq.admin imports topics, and topics this

    return state_key(dlq_topic)


def with_common(keys: RedisKeys, dlq_topics: Iterable[str]) -> RedisKeys:
    """``keys`` plus what libs/common does for the service: its admin API reads the accounts
    store (user tokens) and counts failed bearer checks (the throttle), and the DLQ API marks
    replays of its own dead-letter topics and reads the redaction list."""
    dlq = tuple(dlq_state_pattern(t) for t in sorted(set(dlq_topics)))
    redactions = (REDACTIONS_KEY,) if dlq and REDACTIONS_KEY not in keys.writes else ()
    if ACCOUNTS_PATTERN in keys.writes:
        reads = tuple(dict.fromkeys((*keys.reads, *redactions)))
        return RedisKeys((*keys.writes, *dlq), reads, keys.scripts)
    writes = (*keys.writes, BEARER_PATTERN, *dlq)
    reads = tuple(dict.fromkeys((*keys.reads, ACCOUNTS_PATTERN, *redactions)))
    return RedisKeys(writes, reads, keys.scripts)


def user_name(service: str) -> str:
    """The Redis ACL user of a service (as its Kafka user is named)."""
    return f"{USER_PREFIX}{service}"


def acl_rules(keys: RedisKeys) -> list[str]:
    """The ACL rules of a user allowed exactly ``keys`` (password rules not included)."""
    commands = [*BASE_COMMANDS, *(SCRIPT_COMMANDS if keys.scripts else ()), *REFUSED]
    patterns = [f"~{p}" for p in keys.writes] + [f"%R~{p}" for p in keys.reads]
    return ["resetkeys", "resetchannels", "-@all", *commands, *patterns]
