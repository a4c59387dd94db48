"""Console sessions. The cookie carries only a random session id and its HMAC signature;
the session (CSRF token, the user and role, when it began, when it was last used) lives in
Redis, so logout ends it on every replica and a forged or altered cookie is refused before
any lookup. A session ends after ``STOCKSYNC_SESSION_IDLE_S`` unused or
``STOCKSYNC_SESSION_TTL_S`` after the login, whichever comes first, and at once when the
user's generation moves past the session's (a password reset, a role change, disabling:
``Accounts.set_password`` and its siblings raise it; the session's own API token is bound to
the same generation, so the services refuse it at that moment too). The signing key is a
secret of its own, ``STOCKSYNC_CONSOLE_SESSION_KEY`` (a random one per process outside
production when unset): rotating it ends every session."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from redis.asyncio import Redis

from stocksync_common.accounts import ROLE_SCOPES, Principal, Role, Scope, split_token
from stocksync_common.accounts.store import Login

COOKIE = "stocksync_console"
# the label of the API token a login issues for its session (the Users page lists them)
TOKEN_LABEL = "ops-console session"  # noqa: S105 - a label, not a secret
_KEY_LABEL = b"stocksync ops-console session v1"


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    created_at: float
    user: str = ""
    role: Role = "viewer"
    seen_at: float = 0.0
    # the user's API token for this session (the console calls the services with it)
    token: str = ""
    # the user's generation at the login: a newer one ends the session
    generation: int = 0

    @property
    def who(self) -> str:
        """The label audit lines carry: the user and a prefix of the session id (never the
        whole credential)."""
        return f"{self.user}/console:{self.sid[:8]}"

    def may(self, scope: Scope) -> bool:
        return scope in ROLE_SCOPES.get(self.role, frozenset())


def new_session(
    user: str = "",
    role: Role = "viewer",
    now: float | None = None,
    token: str = "",
    generation: int = 0,
) -> Session:
    now = time.time() if now is None else now
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    return Session(sid, csrf, now, user, role, now, token, generation)


class Users(Protocol):
    """The accounts the console logs users in against
    (:class:`stocksync_common.accounts.store.Accounts`; a fake in unit tests)."""

    async def login(self, name: str, password: str, address: str) -> Login: ...

    async def active(self, name: str) -> Principal | None: ...

    async def issue_token(
        self,
        name: str,
        label: str,
        scopes: frozenset[Scope],
        ttl_s: int | None = None,
        generation: int | None = None,
    ) -> tuple[str, str]: ...

    async def revoke_token(self, token_id: str) -> bool: ...

    async def touch_token(self, token_id: str, ttl_s: int) -> bool: ...


async def end(users: Users, sessions: SessionStore, session: Session) -> None:
    """End a session everywhere: its record and the user token it called the services with."""
    await sessions.delete(session.sid)
    parts = split_token(session.token)
    if parts is not None:
        await users.revoke_token(parts[0])


async def keep(users: Users, sessions: SessionStore, session: Session, ttl_s: int) -> bool:
    """Keep a session ``ttl_s`` longer, and its user token exactly as long: a session that
    ends by its record's expiry (nobody using it) takes its token with it. False, and the
    session kept no longer, when its token is gone (an admin revoked it)."""
    parts = split_token(session.token)
    # the token first: it never outlives the session, by a moment even
    if parts is not None and not await users.touch_token(parts[0], ttl_s):
        return False
    await sessions.put(session, ttl_s)
    return True


async def renew(
    users: Users, sessions: SessionStore, session: Session, generation: int, ttl_s: int
) -> Session:
    """The same session (cookie, CSRF token) in the user's new ``generation``, with a new
    token of that generation: an admin who resets their own password keeps the session they
    did it from, while every other session of theirs ends."""
    scopes = ROLE_SCOPES.get(session.role, frozenset())
    _, token = await users.issue_token(session.user, TOKEN_LABEL, scopes, ttl_s, generation)
    renewed = replace(session, token=token, generation=generation)
    await sessions.put(renewed, ttl_s)
    old = split_token(session.token)
    if old is not None:
        await users.revoke_token(old[0])
    return renewed


def time_left(session: Session, now: float, idle_s: int, ttl_s: int) -> float:
    """Seconds the session may still be kept: an idle period, never past its absolute end."""
    return min(idle_s, ttl_s - (now - session.created_at))


class Signer:
    """Signs session ids for the cookie."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def sign(self, sid: str) -> str:
        return f"{sid}.{self._mac(sid)}"

    def unsign(self, value: str) -> str | None:
        sid, _, mac = value.rpartition(".")
        if not sid or not hmac.compare_digest(mac.encode(), self._mac(sid).encode()):
            return None
        return sid


class SessionStore(Protocol):
    async def put(self, session: Session, ttl_s: int) -> None: ...

    async def get(self, sid: str) -> Session | None: ...

    async def delete(self, sid: str) -> None: ...


class RedisSessions:
    """``console:session:<sid>`` -> the session as JSON, expiring with the login."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def key(sid: str) -> str:
        return f"console:session:{sid}"

    async def put(self, session: Session, ttl_s: int) -> None:
        await self.redis.set(self.key(session.sid), json.dumps(asdict(session)), ex=ttl_s)

    async def get(self, sid: str) -> Session | None:
        raw = await self.redis.get(self.key(sid))
        return Session(**json.loads(raw)) if raw else None

    async def delete(self, sid: str) -> None:
        await self.redis.delete(self.key(sid))


class MemorySessions:
    """Sessions in this process only (tests; a single replica without Redis)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Session, float]] = {}

    async def put(self, session: Session, ttl_s: int) -> None:
        self._items[session.sid] = (session, time.monotonic() + ttl_s)

    async def get(self, sid: str) -> Session | None:
        item = self._items.get(sid)
        if item is None or item[1] < time.monotonic():
            self._items.pop(sid, None)
            return None
        return item[0]

    async def delete(self, sid: str) -> None:
        self._items.pop(sid, None)
