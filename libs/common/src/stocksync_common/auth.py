"""The admin bearer token every admin API requires (``STOCKSYNC_ADMIN_TOKEN``): the one
dependency every admin route uses (the services' and the DLQ API's), and the audit line.

``who: AdminDep`` in a route's signature refuses a request without ``Authorization: Bearer
<the service's admin token>`` with 401 (missing and wrong alike: nothing tells them apart),
compared in constant time; the route gets an :class:`Admin` that names the caller for the
audit log by address and a fingerprint of the token, never the token."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from pydantic import SecretStr

log = logging.getLogger("stocksync.audit")


def check_admin(authorization: str | None, token: str) -> None:
    """401 unless ``authorization`` is ``Bearer <token>``.

    Compared in constant time; neither value ever appears in the error."""
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})


def audit(who: str, what: str, **detail: Any) -> None:
    """One audit line: who, what (the message is ``audit: <what>``) and when (its time)."""
    log.info("audit: %s", what, extra={"who": who, "action": what, **detail})


@dataclass(frozen=True)
class Admin:
    """A caller that presented the admin token: ``who`` the credential (``admin``),
    ``caller`` its address and token fingerprint (``admin-token:<8 hex>@<address>``)."""

    caller: str
    who: str = "admin"

    def audit(self, what: str, **detail: Any) -> None:
        """The audit line of an action this caller took."""
        audit(self.who, what, caller=self.caller, **detail)


def admin_caller(request: Request, authorization: str | None, token: str) -> Admin:
    """:func:`check_admin`, then the caller named by address and token fingerprint."""
    check_admin(authorization, token)
    fingerprint = hashlib.sha256((authorization or "").encode()).hexdigest()[:8]
    client = request.client.host if request.client else "unknown"
    return Admin(f"admin-token:{fingerprint}@{client}")


def _token(request: Request) -> str:
    """The admin token of the service the app runs: its settings (the runtime puts them on
    the app's state), else its container's."""
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        settings = request.app.state.container.settings
    token: SecretStr = settings.admin_token
    return token.get_secret_value()


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> Admin:
    """The admin routes' dependency: the service's admin token is required."""
    return admin_caller(request, authorization, _token(request))


AdminDep = Annotated[Admin, Depends(require_admin)]
