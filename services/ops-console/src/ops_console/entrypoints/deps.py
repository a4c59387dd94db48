"""FastAPI dependencies: the container, the session behind a page (ended when idle or old,
when its user was disabled, their password reset or role changed since the login, or its
token revoked), and
the checks every action passes (a session, its CSRF token, then a role that may operate)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request

from ops_console.backends import CREDENTIAL
from ops_console.bootstrap import Container
from ops_console.sessions import COOKIE, Session, end, keep, time_left
from stocksync_common.bodies import read_bounded

MAX_FORM_BYTES = 64 * 1024


class LoginRequired(Exception):
    """A page was asked for without a session: the app redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def get_container(request: Request) -> Container:  # async: no thread-pool hop
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_session(request: Request, c: ContainerDep) -> Session | None:
    cookie = request.cookies.get(COOKIE)
    sid = c.signer.unsign(cookie) if cookie else None
    session = await c.sessions.get(sid) if sid else None
    if session is None:
        return None
    now, s = c.clock(), c.settings
    left = time_left(session, now, s.session_idle_s, s.session_ttl_s)
    principal = await c.users.active(session.user)
    if (
        now - session.seen_at >= s.session_idle_s
        or left <= 0
        or principal is None
        or principal.generation != session.generation
    ):
        await end(c.users, c.sessions, session)
        return None
    session = replace(session, role=principal.role, seen_at=now)
    if not await keep(c.users, c.sessions, session, max(1, int(left))):
        await end(c.users, c.sessions, session)  # its token was revoked: the session too
        return None
    CREDENTIAL.set(session.token)  # this request calls the services as this user
    return session


MaybeSessionDep = Annotated[Session | None, Depends(current_session)]


async def page_session(request: Request, session: MaybeSessionDep) -> Session:
    if session is None:
        path = request.url.path
        raise LoginRequired(f"{path}?{request.url.query}" if request.url.query else path)
    return session


PageSessionDep = Annotated[Session, Depends(page_session)]


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body, one value per field."""
    body = await read_bounded(request, MAX_FORM_BYTES, "form")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


FormDep = Annotated[dict[str, str], Depends(read_form)]


@dataclass(frozen=True)
class Action:
    session: Session
    form: dict[str, str]

    @property
    def who(self) -> str:
        return self.session.who


async def session_action(session: MaybeSessionDep, form: FormDep) -> Action:
    """A request that changes the session (logout): 401 without a session, 403 without its
    CSRF token."""
    if session is None:
        raise HTTPException(401, "log in first")
    token = form.get("csrf", "")
    if not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token")
    return Action(session, form)


SessionActionDep = Annotated[Action, Depends(session_action)]


async def action(act: SessionActionDep) -> Action:
    """A state-changing request: :func:`session_action`, then 403 for a role that may not
    change anything (a viewer), whatever form it was sent from."""
    if not act.session.may("operate"):
        raise HTTPException(403, f"a {act.session.role} may look but not change anything")
    return act


ActionDep = Annotated[Action, Depends(action)]
