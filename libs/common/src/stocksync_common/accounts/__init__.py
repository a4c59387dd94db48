"""Named users, roles and scopes: who may do what on the admin APIs and the ops console.

Three roles, each a set of scopes: ``viewer`` reads (``read``), ``operator`` also changes
things (``operate``: DLQ replay and purge, imports, reconciliations, store connect, rules),
``admin`` also manages users (``admin``). An API token carries scopes of its own, never more
than its user's role allows when it is used: a user's role lowered or the user disabled
takes effect on every token at once. A request needs ``read`` for GET and HEAD and
``operate`` for anything else (:func:`scope_for`).

API tokens look like ``sst_<id>_<secret>``: the id finds the token (and names it in audit
lines and in ``stocksync-users token revoke``), the secret (32 random bytes) is kept only as
its SHA-256 digest. A token is shown once, when it is issued. Passwords are argon2id hashes
(:mod:`stocksync_common.accounts.store`). The shared ``STOCKSYNC_ADMIN_TOKEN`` stays a
bootstrap credential with every scope (docs/security.md).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["viewer", "operator", "admin"]
Scope = Literal["read", "operate", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
SCOPES: tuple[Scope, ...] = get_args(Scope)
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset({"read", "operate", "admin"}),
}
# The name audit lines give the shared bootstrap token; no user may take it.
BOOTSTRAP = "admin-token"
TOKEN_PREFIX = "sst_"  # noqa: S105 - a prefix, not a secret
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_TOKEN = re.compile(r"sst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
READ_METHODS = frozenset({"GET", "HEAD"})
MIN_PASSWORD_CHARS = 12


class AccountError(ValueError):
    """A refused account operation, said in words (never with a secret in it)."""


def valid_name(name: str) -> str:
    """``name`` if it can be a user name (lower case letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME.fullmatch(name) or name == BOOTSTRAP:
        raise AccountError(
            f"user name {name[:64]!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'"
            f" (and not {BOOTSTRAP})"
        )
    return name


def valid_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role[:32]!r}")


def parse_scopes(text: str) -> frozenset[Scope]:
    """``read,operate`` -> the scopes; an unknown scope is an error."""
    found: set[Scope] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        scope = next((s for s in SCOPES if s == part), None)
        if scope is None:
            raise AccountError(f"scope must be among {', '.join(SCOPES)}, not {part[:32]!r}")
        found.add(scope)
    if not found:
        raise AccountError("a token needs at least one scope")
    return frozenset(found)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


def scope_for(method: str) -> Scope:
    """The scope a request needs: ``read`` to look, ``operate`` to change anything."""
    return "read" if method.upper() in READ_METHODS else "operate"


def new_token() -> tuple[str, str, str]:
    """A new token: (its id, the token as shown once, the digest that is stored)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", digest(secret)


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    match = _TOKEN.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def digest(secret: str) -> str:
    # A token secret has 256 bits of entropy: a fast digest is enough (no guessing to slow).
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the user (``admin-token`` for the bootstrap token), the role,
    the scopes in force, and the credential used (``password``, ``token:<id>``, or
    ``admin-token:<fingerprint>``), never the secret; ``generation`` the user's session
    generation (a password reset, a role change or disabling raises it)."""

    user: str
    role: Role
    scopes: frozenset[Scope]
    credential: str
    generation: int = 0

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def caller(self, address: str) -> str:
        """The audit lines' caller: user, credential and client address."""
        if self.user == BOOTSTRAP:
            return f"{self.credential}@{address}"
        return f"{self.user}/{self.credential}@{address}"
