"""Per-SKU crossing state and the velocity window in Redis (one ``{sku}`` slot per script)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from notifier.domain.crossings import SkuState

# Compare-and-set on the decided version: a second owner of the partition (a rebalance in
# flight) cannot overwrite a newer decision.
COMMIT = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'done', ARGV[2]) end
return 1
"""
MARK_DONE = """
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then redis.call('HSET', KEYS[1], 'done', ARGV[1]) end
return 1
"""
# Units sold per second in one hash per SKU; a change is counted once (version guard), so a
# replay after a restart does not count it again. Returns the units in the window ending now.
VELOCITY = """
local last = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local version, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local units, window = tonumber(ARGV[3]), tonumber(ARGV[4])
if version > last then
  redis.call('HSET', KEYS[1], 'v', version)
  if units > 0 then redis.call('HINCRBY', KEYS[1], 's' .. now, units) end
end
local total = 0
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local f = flat[i]
  if string.sub(f, 1, 1) == 's' then
    local sec = tonumber(string.sub(f, 2))
    if sec <= now - window then redis.call('HDEL', KEYS[1], f)
    elseif sec <= now then total = total + tonumber(flat[i + 1]) end
  end
end
redis.call('EXPIRE', KEYS[1], window * 2 + 60)
return total
"""


def text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def state_key(sku: str, prefix: str = "notifier") -> str:
    return f"{prefix}:{{{sku}}}:state"


@dataclass
class SkuStates:
    redis: Redis
    prefix: str = "notifier"

    def __post_init__(self) -> None:
        self._commit = self.redis.register_script(COMMIT)
        self._done = self.redis.register_script(MARK_DONE)

    async def load(self, sku: str) -> SkuState:
        raw = await self.redis.hmget(state_key(sku, self.prefix), ["s", "done"])
        doc, done = text(raw[0]), text(raw[1])
        state = SkuState.model_validate_json(doc) if doc else SkuState()
        state.done = int(done) if done else 0
        return state

    async def commit(
        self, sku: str, expected_version: int, state: SkuState, *, done: bool = False
    ) -> bool:
        """Store ``state`` if the stored version is still ``expected_version``; ``done``
        when the decision has no effects left to carry out."""
        body = state.model_dump_json(exclude={"done"})
        args: list[str | int] = [expected_version, state.version, body, "1" if done else "0"]
        return bool(await self._commit(keys=[state_key(sku, self.prefix)], args=args))

    async def mark_done(self, sku: str, version: int) -> None:
        await self._done(keys=[state_key(sku, self.prefix)], args=[version])


@dataclass
class VelocityWindow:
    """Units sold per SKU over a sliding window of whole seconds (see decision 0006)."""

    redis: Redis
    window_s: int = 60
    prefix: str = "notifier"

    def __post_init__(self) -> None:
        self._script = self.redis.register_script(VELOCITY)

    async def record(self, sku: str, version: int, at_s: int, units: int) -> int:
        key = f"{self.prefix}:{{{sku}}}:velocity"
        total = await self._script(keys=[key], args=[version, at_s, units, self.window_s])
        return int(total)
