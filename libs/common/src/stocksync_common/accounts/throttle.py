"""Failed bearer checks on the admin APIs, counted in Redis and throttled (#22).

Three counters, each a key that expires ``window_s`` after its first failure (``INCR`` and
``EXPIRE ... NX``: the window is never extended, as the login counters)::

    accounts:bearer:pair:<address>:<credential>   one client sending one bad credential
    accounts:bearer:addr:<address>                every failure from one address
    accounts:bearer:id:<token id>                 failures naming one token id, any address

``<credential>`` is the token id of a well-formed ``sst_`` token, else a fingerprint of what
was sent (the first 16 hex of its SHA-256; ``none`` when nothing was): never the secret.

How a request is judged (:func:`stocksync_common.auth.principal` drives it):

1. a (address, credential) pair over ``per_pair`` failures is refused with 429 at once: a
   client repeating one dead credential (a script's old token, the console holding a
   revoked one) is cut off without costing a lookup, and nobody else is touched;
2. a valid user token passes, whatever the address and token-id counters say: its secret
   is 32 random bytes, so there is nothing to guess and no need to hide whether it is
   right. So one user's revoked token, sent from the console's address until that address
   is over its cap, never locks the console's other users out;
3. everything else (a wrong or revoked user token, the bootstrap token, no token) is refused
   with 429 while its address is over ``per_address`` failures (or, for a user token, while
   its id is over ``per_token``), *before* the bootstrap token is compared: the bootstrap
   token is the one credential a person chose, so a guesser gets no answer from it at all
   until the window ends;
4. a failure is counted on all three (the id only for an ``sst_`` token) and answered 401.

Every 429 carries ``Retry-After``: the seconds left in the window that refused it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from fastapi import HTTPException
from prometheus_client import Counter
from redis.asyncio import Redis

from stocksync_common.accounts import split_token

BEARER_FAILURES = Counter(
    "stocksync_admin_bearer_failures_total",
    "Refused bearer credentials on the admin APIs: unauthorized (401) or throttled (429).",
    ["outcome"],
)


def credential_of(bearer: str) -> tuple[str, str | None]:
    """(the credential's name in the counters, its token id if it is a user token)."""
    parts = split_token(bearer)
    if parts is not None:
        return f"token:{parts[0]}", parts[0]
    if not bearer:
        return "none", None
    return "fp:" + hashlib.sha256(bearer.encode()).hexdigest()[:16], None


@dataclass(frozen=True)
class Attempt:
    """One request's bearer credential from one address, as the counters see it."""

    throttle: BearerThrottle
    address: str
    credential: str
    token_id: str | None

    def _keys(self) -> dict[str, tuple[str, int]]:
        t, p = self.throttle, self.throttle.prefix
        keys = {
            "pair": (f"{p}pair:{self.address}:{self.credential}", t.per_pair),
            "addr": (f"{p}addr:{self.address}", t.per_address),
        }
        if self.token_id is not None:
            keys["id"] = (f"{p}id:{self.token_id}", t.per_token)
        return keys

    async def check_repeat(self) -> None:
        """Step 1: 429 if this client sent this bad credential too often."""
        await self._refuse_over(["pair"])

    async def check_guessable(self) -> None:
        """Step 3: 429 if the address (or the token id) failed too often."""
        await self._refuse_over(["addr", "id"])

    async def failed(self) -> None:
        """Step 4: one failure on every counter."""
        BEARER_FAILURES.labels("unauthorized").inc()
        redis, window = self.throttle.redis, self.throttle.window_s
        async with redis.pipeline(transaction=False) as pipe:
            for key, _ in self._keys().values():
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            await pipe.execute()

    async def _refuse_over(self, which: list[str]) -> None:
        known = self._keys()
        keys = [known[w] for w in which if w in known]
        async with self.throttle.redis.pipeline(transaction=False) as pipe:
            for key, _ in keys:
                pipe.get(key)
                pipe.pttl(key)
            answers = await pipe.execute()
        for i, (_, limit) in enumerate(keys):
            count, pttl = int(answers[2 * i] or 0), int(answers[2 * i + 1])
            if count >= limit:
                BEARER_FAILURES.labels("throttled").inc()
                wait = max(1, math.ceil(pttl / 1000)) if pttl > 0 else self.throttle.window_s
                raise HTTPException(
                    429, "too many failed credentials: try again later", {"Retry-After": str(wait)}
                )


class BearerThrottle:
    """The counters behind :class:`Attempt` (see the module docstring for the rules)."""

    def __init__(
        self,
        redis: Redis,
        *,
        per_pair: int = 10,
        per_address: int = 50,
        per_token: int = 20,
        window_s: int = 300,
        prefix: str = "accounts:bearer:",
    ) -> None:
        self.redis = redis
        self.per_pair = per_pair
        self.per_address = per_address
        self.per_token = per_token
        self.window_s = window_s
        self.prefix = prefix

    def attempt(self, address: str, bearer: str) -> Attempt:
        credential, token_id = credential_of(bearer)
        return Attempt(self, address, credential, token_id)
