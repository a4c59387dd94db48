"""Who may call the admin APIs, the one dependency every admin route uses (the services' and
the DLQ API's), and the audit line.

``who: AdminDep`` in a route's signature resolves the caller (:func:`principal`): the
bootstrap admin token (``STOCKSYNC_ADMIN_TOKEN``, every scope), or a named user's API token
whose scopes cover the request (``read`` for GET and HEAD, ``operate`` for the rest; 403
without). No credential, or a wrong, revoked or expired one, is 401 (missing and wrong alike:
nothing tells them apart); the bootstrap token is compared in constant time. The route gets
an :class:`Admin` that names the user and the caller for the audit log (credential and
address: a token id or a fingerprint of the bootstrap token, never a secret)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from pydantic import SecretStr

from stocksync_common import proxies
from stocksync_common.accounts import (
    BOOTSTRAP,
    ROLE_SCOPES,
    TOKEN_PREFIX,
    Principal,
    Scope,
    scope_for,
)
from stocksync_common.accounts.store import Accounts
from stocksync_common.accounts.throttle import BearerThrottle

log = logging.getLogger("stocksync.audit")


def check_admin(authorization: str | None, token: str) -> None:
    """401 unless ``authorization`` is ``Bearer <token>``.

    Compared in constant time; neither value ever appears in the error."""
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})


async def principal(request: Request, authorization: str | None, token: str) -> Principal:
    """Who is calling: a user's API token (``Bearer sst_...``, checked in the accounts store
    the runtime puts on ``app.state.accounts``) whose scopes cover the request, else the
    bootstrap admin ``token``. 401 for anything else, 403 for a token without the scope, 429
    while failed attempts are throttled (``app.state.bearer_throttle``, the rules in
    :mod:`stocksync_common.accounts.throttle`)."""
    bearer = (authorization or "").removeprefix("Bearer ")
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    throttle: BearerThrottle | None = getattr(request.app.state, "bearer_throttle", None)
    # a request without a credential guesses nothing: it is answered 401 and not counted
    attempt = throttle.attempt(client_address(request), bearer) if throttle and bearer else None
    if attempt is not None:
        await attempt.check_repeat()
    found = None
    if bearer.startswith(TOKEN_PREFIX) and accounts is not None:
        found = await accounts.authenticate(bearer)
    if found is not None:
        need = scope_for(request.method)
        if not found.may(need):
            raise HTTPException(403, f"this token lacks the {need} scope")
        return found
    if attempt is not None:
        await attempt.check_guessable()
    try:
        check_admin(authorization, token)
    except HTTPException:
        if attempt is not None:
            await attempt.failed()
        raise
    fingerprint = hashlib.sha256((authorization or "").encode()).hexdigest()[:8]
    return Principal(BOOTSTRAP, "admin", ROLE_SCOPES["admin"], f"admin-token:{fingerprint}")


def client_address(request: Request) -> str:
    """The client's address: the peer's, or behind a proxy the settings trust
    (``STOCKSYNC_TRUSTED_PROXIES``) the client its ``X-Forwarded-For`` names
    (:mod:`stocksync_common.proxies`)."""
    peer = request.client.host if request.client else "unknown"
    trusted = getattr(_settings(request), "trusted_proxies", None) or []
    return proxies.client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)


def audit(who: str, what: str, **detail: Any) -> None:
    """One audit line: who, what (the message is ``audit: <what>``) and when (its time)."""
    log.info("audit: %s", what, extra={"who": who, "action": what, **detail})


@dataclass(frozen=True)
class Admin:
    """A caller of an admin route: ``who`` the user (``admin-token`` for the bootstrap
    token), ``caller`` the credential and address (``<user>/token:<id>@<address>``, or
    ``admin-token:<8 hex>@<address>``)."""

    caller: str
    who: str = BOOTSTRAP
    scopes: frozenset[Scope] = ROLE_SCOPES["admin"]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def audit(self, what: str, **detail: Any) -> None:
        """The audit line of an action this caller took."""
        audit(self.who, what, caller=self.caller, **detail)


async def admin_caller(request: Request, authorization: str | None, token: str) -> Admin:
    """:func:`principal`, then the caller named by user, credential and address."""
    found = await principal(request, authorization, token)
    return Admin(found.caller(client_address(request)), found.user, found.scopes)


def _settings(request: Request) -> Any:
    """The settings of the service the app runs (the runtime puts them on the app's state),
    else its container's; None for an app with neither."""
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        settings = getattr(getattr(request.app.state, "container", None), "settings", None)
    return settings


def _token(request: Request) -> str:
    """The admin token of the service the app runs."""
    token: SecretStr = _settings(request).admin_token
    return token.get_secret_value()


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Admin:
    """The admin routes' dependency: a credential that covers the request is required."""
    return await admin_caller(request, authorization, _token(request))


AdminDep = Annotated[Admin, Depends(require_admin)]
