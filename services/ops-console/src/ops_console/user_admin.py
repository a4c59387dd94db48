"""User management as the console's page and its JSON API both do it (#22): list, add,
change a role, disable and enable, reset a password, issue and revoke API tokens, each with
one audit line naming the acting user (``who``) and the target. Both require the ``admin``
scope; the accounts store checks the rest (names, roles, password length, a token's scopes
within its user's role) and its refusals come back as :class:`AccountError` in words.

An admin may not disable or demote themselves here (the last admin would lock everyone out
of user management): another admin, or ``stocksync-users``, does that."""

from __future__ import annotations

from typing import Any

from ops_console.audit import audit
from stocksync_common.accounts import AccountError, parse_scopes
from stocksync_common.accounts.store import Accounts


class UserAdmin:
    """The operations, acting as ``who`` (the audit lines' label of the admin)."""

    def __init__(self, accounts: Accounts, who: str, acting_user: str, **detail: Any) -> None:
        self.accounts = accounts
        self.who = who
        self.acting_user = acting_user
        self.detail = detail

    def _audit(self, action: str, target: str, **detail: Any) -> None:
        audit(self.who, action, target=target, **self.detail, **detail)

    async def overview(self) -> list[dict[str, Any]]:
        """Every user with their tokens (never a secret)."""
        tokens = await self.accounts.tokens()
        rows = await self.accounts.users()
        for row in rows:
            row["tokens"] = [t.row() for t in tokens if t.user == row["name"]]
        return rows

    async def add(self, name: str, role: str, password: str) -> None:
        await self.accounts.add_user(name, role, password)
        self._audit("user add", name, role=role)

    async def set_role(self, name: str, role: str) -> None:
        if name == self.acting_user and role != "admin":
            raise AccountError("you cannot lower your own role here")
        await self.accounts.set_role(name, role)
        self._audit("user role", name, role=role)

    async def set_disabled(self, name: str, disabled: bool) -> None:
        if name == self.acting_user and disabled:
            raise AccountError("you cannot disable yourself here")
        await self.accounts.set_disabled(name, disabled)
        self._audit("user disable" if disabled else "user enable", name)

    async def reset_password(self, name: str, password: str) -> int:
        """Set the password; every console session of the user ends (the new generation)."""
        generation = await self.accounts.set_password(name, password)
        self._audit("user password reset", name)
        return generation

    async def issue_token(
        self, name: str, scopes: str, label: str = "", days: int | None = None
    ) -> tuple[str, str]:
        """(the token's id, the token: shown once, never stored)."""
        if days is not None and not 1 <= days <= 3650:
            raise AccountError("days must be between 1 and 3650")
        token_id, token = await self.accounts.issue_token(
            name, label, parse_scopes(scopes), days * 86400 if days else None
        )
        self._audit("token issue", name, token=token_id, scopes=scopes)
        return token_id, token

    async def revoke_token(self, token_id: str) -> None:
        owner = next((t.user for t in await self.accounts.tokens() if t.id == token_id), None)
        if owner is None or not await self.accounts.revoke_token(token_id):
            raise AccountError(f"no token {token_id[:16]}")
        self._audit("token revoke", owner, token=token_id)
