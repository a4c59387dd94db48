"""Failed bearer checks on the admin APIs, counted in Redis and throttled (#22).

Three counters, each a key that expires ``window_s`` after its first failure (``INCR`` and
``EXPIRE ... NX``: the window is never extended, as the login counters)::

    accounts:bearer:pair:<address>:<credential>   one client sending one bad credential
    accounts:bearer:addr:<address>                every failure from one address
    accounts:bearer:id:<token id>                 failures naming one token id, any address

``<credential>`` is the token id of a well-formed ``sst_`` token, else a fingerprint of what
was sent (the first 16 hex of its SHA-256): never the secret. A request without a credential
guesses nothing and is not counted (a probe or a client without a token gets its 401).

How a request is judged (:func:`stocksync_common.auth.principal` drives it):

1. a (address, credential) pair over ``per_pair`` failures is refused with 429 at once: a
   client repeating one dead credential (a script's old token, the console holding a
   revoked one) is cut off without costing a lookup, and nobody else is touched;
2. a valid user token passes, whatever the address and token-id counters say: its secret
   is 32 random bytes, so there is nothing to guess and no need to hide whether it is
   right. So one user's revoked token, sent from the console's address until that address
   is over its cap, never locks the console's other users out;
3. everything else (a wrong or revoked user token, the bootstrap token) is refused
   with 429 while its address is over ``per_address`` failures (or, for a user token, while
   its id is over ``per_token``), *before* the bootstrap token is compared: the bootstrap
   token is the one credential a person chose, so a guesser gets no answer from it at all
   until the window ends;
4. a failure is counted on all three (the id only for an ``sst_`` token) and answered 401.

Every 429 carries ``Retry-After``: the seconds left in the window that refused it.

When Redis does not answer, attempts are neither counted nor throttled (a warning and
``outcome="uncounted"``): the credential is still checked as always (a user token cannot be
checked at all then), and the bootstrap token stays usable in an outage of Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from prometheus_client import Counter
from redis.asyncio import Redis

from stocksync_common.accounts import split_token
from stocksync_common.redis_client import UNANSWERED, unanswered

log = logging.getLogger(__name__)
BEARER_FAILURES = Counter(
    "stocksync_admin_bearer_failures_total",
    "Refused bearer credentials on the admin APIs: unauthorized (401), throttled (429), "
    "uncounted (Redis did not answer).",
    ["outcome"],
)


def credential_of(bearer: str) -> tuple[str, str | None]:
    """(the credential's name in the counters, its token id if it is a user token)."""
    parts = split_token(bearer)
    if parts is not None:
        return f"token:{parts[0]}", parts[0]
    return "fp:" + hashlib.sha256(bearer.encode()).hexdigest()[:16], None


@dataclass(frozen=True)
class Attempt:
    """One request's bearer credential from one address, as the counters see it."""

    throttle: BearerThrottle
    address: str
    credential: str
    token_id: str | None
    # Redis did not answer once in this request: not asked again
    offline: list[bool] = field(default_factory=list)

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
        window = self.throttle.window_s

        def count(pipe: Any) -> None:
            for key, _ in self._keys().values():
                pipe.incr(key)
                pipe.expire(key, window, nx=True)

        await self._pipeline(count)

    async def _refuse_over(self, which: list[str]) -> None:
        known = self._keys()
        keys = [known[w] for w in which if w in known]

        def read(pipe: Any) -> None:
            for key, _ in keys:
                pipe.get(key)
                pipe.pttl(key)

        answers = await self._pipeline(read)
        for i, (_, limit) in enumerate(keys if answers else []):
            count, pttl = int(answers[2 * i] or 0), int(answers[2 * i + 1])
            if count >= limit:
                BEARER_FAILURES.labels("throttled").inc()
                wait = max(1, math.ceil(pttl / 1000)) if pttl > 0 else self.throttle.window_s
                raise HTTPException(
                    429, "too many failed credentials: try again later", {"Retry-After": str(wait)}
                )

    async def _pipeline(self, fill: Callable[[Any], None]) -> list[Any]:
        """The answers of one pipeline ``fill`` filled; [] when Redis does not answer."""
        if self.offline:
            return []
        try:
            async with self.throttle.redis.pipeline(transaction=False) as pipe:
                fill(pipe)
                answers: list[Any] = await pipe.execute()
                return answers
        except UNANSWERED as exc:
            if not unanswered(exc):
                raise
            self.offline.append(True)
            BEARER_FAILURES.labels("uncounted").inc()
            log.warning("bearer attempts uncounted: no answer from Redis (%s)", type(exc).__name__)
            return []


@dataclass(frozen=True)
class BearerThrottle:
    """The counters behind :class:`Attempt` (see the module docstring for the rules)."""

    redis: Redis
    per_pair: int = 10
    per_address: int = 50
    per_token: int = 20
    window_s: int = 300
    prefix: str = "accounts:bearer:"

    def attempt(self, address: str, bearer: str) -> Attempt:
        credential, token_id = credential_of(bearer)
        return Attempt(self, address, credential, token_id)
