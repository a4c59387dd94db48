"""The accounts store in Redis: users with argon2id password hashes, API token digests, and
the failure counters behind login throttling and lock-out.

Keys (every service shares the one Redis)::

    accounts:users                 set of user names
    accounts:user:<name>           hash: role, password (argon2id), disabled, created_at,
                                   generation (raised by a password reset, a role change,
                                   disabling: every session of the user older than it ends)
    accounts:tokens:<name>         set of the user's token ids
    accounts:token:<id>            hash: user, label, scopes, digest, created_at, expires_at
                                   (expiring with the token when it has an end), and for a
                                   session's token the generation it was issued in
    accounts:failures:user:<name>  failed logins for that name, expiring ``lockout_s`` after
                                   the first: ``max_failures`` of them lock the name out
    accounts:failures:addr:<addr>  the same per client address (``max_address_failures``)

Names that are no user are counted and locked like real ones, and a login for them spends
the same argon2 work, so neither the answer nor its time tells whether a name exists.
Hashing runs in a worker thread: an argon2 hash takes tens of milliseconds of CPU. The
failure windows use ``EXPIRE ... NX`` (Redis 7 or newer, as every deployment here runs).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from stocksync_common.accounts import (
    ROLE_SCOPES,
    AccountError,
    Principal,
    Scope,
    check_password,
    digest,
    new_token,
    split_token,
    valid_name,
    valid_role,
)
from stocksync_common.redis_client import is_cluster

LoginOutcome = Literal["ok", "wrong", "locked", "throttled"]
# a revoked token's hash must not come back as a stub: change it only while it exists
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Login:
    outcome: LoginOutcome
    principal: Principal | None = None


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    label: str
    scopes: frozenset[Scope]
    created_at: float
    expires_at: float | None
    # a session's token: the user generation it belongs to (None: any)
    generation: int | None = None

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id, "user": self.user, "label": self.label,
            "scopes": sorted(self.scopes), "created_at": self.created_at,
            "expires_at": self.expires_at,
        }  # fmt: skip


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


class Accounts:
    """Users, tokens and login failures in Redis (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = 5,
        max_address_failures: int = 20,
        lockout_s: int = 900,
        clock: Callable[[], float] = time.time,
        prefix: str = "accounts:",
    ) -> None:
        self.redis = redis
        self.p = prefix
        self.hasher = hasher or PasswordHasher()
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._dummy: str | None = None

    # users

    async def add_user(self, name: str, role: str, password: str) -> None:
        name, role_ = valid_name(name), valid_role(role)
        hashed = await asyncio.to_thread(self.hasher.hash, check_password(password))
        # a name removed and added again starts a generation of its own: a session of the
        # earlier user of that name is not the new user's
        fields = {"role": role_, "password": hashed, "disabled": "0", "created_at": self.clock(),
                  "generation": int(self.clock() * 1000)}  # fmt: skip
        if not await self.redis.hsetnx(f"{self.p}user:{name}", "role", role_):
            raise AccountError(f"user {name} exists already")
        await self.redis.hset(f"{self.p}user:{name}", mapping=fields)  # type: ignore[arg-type]
        await self.redis.sadd(f"{self.p}users", name)

    async def user(self, name: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(f"{self.p}user:{name}")
        return {_s(k): _s(v) for k, v in raw.items()} if raw else None

    async def users(self) -> list[dict[str, Any]]:
        names = sorted(_s(n) for n in await self.redis.smembers(f"{self.p}users"))
        rows = []
        for name in names:
            u = await self.user(name)
            if u is not None:
                locked = await self.locked(name)
                rows.append({"name": name, "role": u.get("role"),
                             "disabled": u.get("disabled") == "1", "locked": locked})  # fmt: skip
        return rows

    async def has_admin(self) -> bool:
        return any(u["role"] == "admin" and not u["disabled"] for u in await self.users())

    async def _existing(self, name: str) -> dict[str, str]:
        u = await self.user(name)
        if u is None:
            raise AccountError(f"no user {name}")
        return u

    async def set_password(self, name: str, password: str) -> int:
        """Set the password and end every session of the user (the new generation)."""
        await self._existing(name)
        hashed = await asyncio.to_thread(self.hasher.hash, check_password(password))
        generation = await self._change(name, "password", hashed)
        await self.unlock(name)
        return generation

    async def set_role(self, name: str, role: str) -> int:
        """Change the role: every session of the user ends (unless the role is the same)."""
        u = await self._existing(name)
        if u.get("role") == valid_role(role):
            return int(u.get("generation") or 0)
        return await self._change(name, "role", valid_role(role))

    async def set_disabled(self, name: str, disabled: bool) -> int:
        u = await self._existing(name)
        flag = "1" if disabled else "0"
        if u.get("disabled") == flag:
            return int(u.get("generation") or 0)
        return await self._change(name, "disabled", flag)

    async def _change(self, name: str, field: str, value: str) -> int:
        """Change one field of a user and raise their generation in one transaction: a
        session (and its token) of an older generation is refused from then on."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self.p}user:{name}", field, value)
            pipe.hincrby(f"{self.p}user:{name}", "generation", 1)
            answers = await pipe.execute()
        return int(answers[1])

    async def remove_user(self, name: str) -> None:
        await self._existing(name)
        for token_id in await self.redis.smembers(f"{self.p}tokens:{name}"):
            await self.redis.delete(f"{self.p}token:{_s(token_id)}")
        await self.redis.delete(f"{self.p}user:{name}", f"{self.p}tokens:{name}")
        await self.redis.srem(f"{self.p}users", name)

    async def active(self, name: str) -> Principal | None:
        """The user as a principal of their role, if they exist and are not disabled."""
        u = await self.user(name)
        if u is None or u.get("disabled") == "1" or u.get("role") not in ROLE_SCOPES:
            return None
        role = valid_role(u["role"])
        generation = int(u.get("generation") or 0)
        return Principal(name, role, ROLE_SCOPES[role], "password", generation)

    # passwords, throttling, lock-out

    async def login(self, name: str, password: str, address: str) -> Login:
        """Check a password, counting failures per name and per address; a name with
        ``max_failures`` recent failures is locked out (its right password refused too)."""
        name = name.strip().lower()[:64]
        if await self._count(f"addr:{address}") >= self.max_address_failures:
            return Login("throttled")
        if await self.locked(name):
            await self._fail(name, address)
            return Login("locked")
        u = await self.user(name)
        stored = u.get("password", "") if u else await self._dummy_hash()
        if not await self._verify(stored, password) or u is None:
            await self._fail(name, address)
            return Login("locked" if await self.locked(name) else "wrong")
        await self.unlock(name)
        if self.hasher.check_needs_rehash(stored):
            rehashed = await asyncio.to_thread(self.hasher.hash, password)
            await self.redis.hset(f"{self.p}user:{name}", "password", rehashed)
        principal = await self.active(name)
        return Login("ok", principal) if principal else Login("wrong")

    async def _verify(self, stored: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self.hasher.hash, "no such user")
        return self._dummy

    async def _count(self, what: str) -> int:
        return int(_s(await self.redis.get(f"{self.p}failures:{what}")) or 0)

    async def _fail(self, name: str, address: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for what in (f"user:{name}", f"addr:{address}"):
                # the window starts at the first failure and is never extended (NX), so an
                # attacker cannot keep a real user locked out beyond lockout_s at a time
                pipe.incr(f"{self.p}failures:{what}")
                pipe.expire(f"{self.p}failures:{what}", self.lockout_s, nx=True)
            await pipe.execute()

    async def locked(self, name: str) -> bool:
        return await self._count(f"user:{name}") >= self.max_failures

    async def unlock(self, name: str) -> None:
        await self.redis.delete(f"{self.p}failures:user:{name}")

    # API tokens

    async def issue_token(
        self,
        name: str,
        label: str,
        scopes: frozenset[Scope],
        ttl_s: int | None = None,
        generation: int | None = None,
    ) -> tuple[str, str]:
        """A new token for ``name``: (its id, the token, to be shown once and never again).
        With ``generation`` (a session's token) it stops working as soon as the user's
        generation moves past it; without, it lives by its own expiry and revocation."""
        u = await self._existing(name)
        allowed = ROLE_SCOPES[valid_role(u["role"])]
        if not scopes <= allowed:
            extra = ", ".join(sorted(scopes - allowed))
            raise AccountError(f"{name} is {u['role']}: a token of theirs cannot have {extra}")
        token_id, token, hashed = new_token()
        now = self.clock()
        key = f"{self.p}token:{token_id}"
        fields = {"user": name, "label": label[:100], "scopes": ",".join(sorted(scopes)),
                  "digest": hashed, "created_at": now,
                  "expires_at": now + ttl_s if ttl_s else ""}  # fmt: skip
        if generation is not None:
            fields["generation"] = generation
        # One Redis: MULTI. A cluster keeps the two keys in two slots (ADR 0029): the list
        # entry goes first, so a crash between leaves an id the listing skips, never a token
        # the listing (and so a user's removal) misses.
        async with self.redis.pipeline(transaction=not is_cluster(self.redis)) as pipe:
            pipe.sadd(f"{self.p}tokens:{name}", token_id)
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            if ttl_s:
                pipe.expire(key, ttl_s)
            await pipe.execute()
        return token_id, token

    async def touch_token(self, token_id: str, ttl_s: int) -> bool:
        """Let a token end ``ttl_s`` from now (a console session's token follows its session,
        so both end together however the session ends); False if it is gone already."""
        key = f"{self.p}token:{token_id}"
        touched = await self.redis.eval(_TOUCH, 1, key, str(self.clock() + ttl_s), str(ttl_s))
        return bool(touched)

    async def revoke_token(self, token_id: str) -> bool:
        user = _s(await self.redis.hget(f"{self.p}token:{token_id}", "user"))
        if user:
            await self.redis.srem(f"{self.p}tokens:{user}", token_id)
        return bool(await self.redis.delete(f"{self.p}token:{token_id}"))

    async def tokens(self, name: str | None = None) -> list[TokenInfo]:
        names = [name] if name else [_s(n) for n in await self.redis.smembers(f"{self.p}users")]
        found = []
        for user in sorted(names):
            ids = await self.redis.smembers(f"{self.p}tokens:{user}")
            for token_id in sorted(_s(t) for t in ids):
                info = await self._token(token_id)
                if info is None:  # expired: its index entry goes too
                    await self.redis.srem(f"{self.p}tokens:{user}", token_id)
                else:
                    found.append(info)
        return found

    async def _token(self, token_id: str) -> TokenInfo | None:
        stored = await self.redis.hgetall(f"{self.p}token:{token_id}")
        raw = {_s(k): _s(v) for k, v in stored.items()}
        if not raw:
            return None
        scopes = frozenset(s for s in raw.get("scopes", "").split(",") if s in ROLE_SCOPES["admin"])
        expires = float(raw["expires_at"]) if raw.get("expires_at") else None
        generation = int(raw["generation"]) if raw.get("generation") else None
        return TokenInfo(token_id, raw.get("user", ""), raw.get("label", ""), scopes,
                         float(raw.get("created_at") or 0), expires, generation)  # fmt: skip

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unexpired token of an active user: the token's scopes
        limited to what the user's role allows now. None for anything else."""
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        stored = _s(await self.redis.hget(f"{self.p}token:{token_id}", "digest"))
        if not stored or not hmac.compare_digest(stored, digest(secret)):
            return None
        info = await self._token(token_id)
        if info is None or (info.expires_at is not None and info.expires_at <= self.clock()):
            return None
        user = await self.active(info.user)
        if user is None or (info.generation is not None and info.generation != user.generation):
            return None
        scopes = info.scopes & user.scopes
        return Principal(user.user, user.role, scopes, f"token:{token_id}", user.generation)
