"""The rules in Redis, shared by every replica; a revision counter tells when to reload."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from redis.asyncio import Redis

from notifier.adapters.state import text
from notifier.domain.rules import RuleSet
from stocksync_common.redis_client import is_cluster

log = logging.getLogger(__name__)


def load_rules_file(path: str | Path) -> RuleSet:
    """A YAML (or JSON) rules document; raises ``pydantic.ValidationError`` if invalid."""
    return RuleSet.model_validate(yaml.safe_load(Path(path).read_text()) or {})


@dataclass
class RulesStore:
    redis: Redis
    prefix: str = "notifier"
    _rev: str | None = None
    _rules: RuleSet = field(default_factory=RuleSet)

    @property
    def rules_key(self) -> str:
        return f"{self.prefix}:rules"

    @property
    def rev_key(self) -> str:
        return f"{self.prefix}:rules:rev"

    async def current(self) -> RuleSet:
        """The latest rules; one GET per call while they have not changed."""
        rev = text(await self.redis.get(self.rev_key))
        if rev != self._rev:
            raw = text(await self.redis.get(self.rules_key))
            self._rules = RuleSet.model_validate_json(raw) if raw else RuleSet()
            self._rev = rev
        return self._rules

    async def revision(self) -> int:
        return int(text(await self.redis.get(self.rev_key)) or 0)

    async def replace(self, rules: RuleSet) -> int:
        """Store new rules; returns the new revision."""
        # One Redis: MULTI. On a cluster the two keys are two slots (ADR 0029): the rules go
        # first, then the revision that tells the other replicas to reload them.
        async with self.redis.pipeline(transaction=not is_cluster(self.redis)) as pipe:
            pipe.set(self.rules_key, rules.model_dump_json(exclude_defaults=True))
            pipe.incr(self.rev_key)
            _, rev = await pipe.execute()
        return int(rev)

    async def seed(self, rules: RuleSet) -> bool:
        """Store ``rules`` only if none are stored yet (the file seeds, the API then owns)."""
        if not await self.redis.set(
            self.rules_key, rules.model_dump_json(exclude_defaults=True), nx=True
        ):
            return False
        await self.redis.incr(self.rev_key)
        return True
