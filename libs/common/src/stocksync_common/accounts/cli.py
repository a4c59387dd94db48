"""``stocksync-users``: the named users of the ops console and the admin APIs, and their API
tokens, in the accounts store (``STOCKSYNC_REDIS_URL``)::

    stocksync-users bootstrap-admin [--name admin]   # the first admin, password from
                                                    # STOCKSYNC_FIRST_ADMIN_PASSWORD
    stocksync-users add NAME --role viewer|operator|admin [--password-stdin]
    stocksync-users passwd NAME [--password-stdin]  # also lifts a lock-out
    stocksync-users role NAME ROLE | disable NAME | enable NAME | unlock NAME | remove NAME
    stocksync-users list
    stocksync-users token issue NAME --scopes read[,operate[,admin]] [--label L] [--days N]
    stocksync-users token list [NAME] | token revoke ID

A token is printed once, when it is issued; only its digest is kept. Each change writes an
audit line naming the shell user (``cli:<login>``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from typing import ClassVar

from stocksync_common.accounts import ROLES, AccountError, parse_scopes
from stocksync_common.accounts.store import Accounts
from stocksync_common.cli_output import print_rows
from stocksync_common.logs import configure_logging
from stocksync_common.redis_client import connect_settings
from stocksync_common.settings import CommonSettings, load

log = logging.getLogger("stocksync.audit")
FIRST_ADMIN_ENV = "STOCKSYNC_FIRST_ADMIN_PASSWORD"


class UsersSettings(CommonSettings):
    """The command's settings: Redis only (it runs in any pod, the console's too, which has
    no Kafka user: its Kafka settings are not asked for)."""

    uses_kafka: ClassVar[bool] = False
    service_name: str = "stocksync-users"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stocksync-users", description="Users and API tokens.")
    sub = p.add_subparsers(dest="command", required=True)
    boot = sub.add_parser("bootstrap-admin", help=f"first admin, password: {FIRST_ADMIN_ENV}")
    boot.add_argument("--name", default="admin")
    add = sub.add_parser("add", help="a new user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true")
    pw = sub.add_parser("passwd", help="set a user's password (and lift a lock-out)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    role = sub.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    for command in ("disable", "enable", "unlock", "remove"):
        sub.add_parser(command, help=f"{command} a user").add_argument("name")
    sub.add_parser("list", help="every user: role, disabled, locked out")
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    issue = token.add_parser("issue", help="a new token, printed once")
    issue.add_argument("name")
    issue.add_argument("--scopes", required=True, help="read, operate, admin (comma-separated)")
    issue.add_argument("--label", default="")
    issue.add_argument("--days", type=int, help="expires after this many days (default: never)")
    token.add_parser("list", help="tokens (never their secrets)").add_argument("name", nargs="?")
    token.add_parser("revoke", help="revoke a token by its id").add_argument("id")
    return p


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _audit(what: str, **detail: object) -> None:
    log.info("audit: %s", what, extra={"who": f"cli:{getpass.getuser()}", **detail})


async def _bootstrap(accounts: Accounts, name: str) -> str:
    if await accounts.has_admin():
        return "an admin exists already: nothing done"
    password = os.environ.get(FIRST_ADMIN_ENV, "")
    if not password:
        raise AccountError(f"set {FIRST_ADMIN_ENV} to the first admin's password")
    await accounts.add_user(name, "admin", password)
    _audit("user bootstrap-admin", user=name)
    return f"admin {name} created"


async def _token(args: argparse.Namespace, accounts: Accounts) -> str:
    if args.action == "issue":
        ttl = args.days * 86400 if args.days else None
        token_id, token = await accounts.issue_token(
            args.name, args.label, parse_scopes(args.scopes), ttl
        )
        _audit("token issue", user=args.name, token=token_id, scopes=args.scopes)
        return f"token {token_id} for {args.name} (shown once, keep it now):\n{token}"
    if args.action == "revoke":
        if not await accounts.revoke_token(args.id):
            raise AccountError(f"no token {args.id}")
        _audit("token revoke", token=args.id)
        return f"token {args.id} revoked"
    rows = [t.row() for t in await accounts.tokens(args.name)]
    print_rows(rows, ["id", "user", "label", "scopes", "created_at", "expires_at"], as_json=False)
    return ""


async def dispatch(args: argparse.Namespace, accounts: Accounts) -> str:
    """Run one command; what to print."""
    name = getattr(args, "name", None)
    match args.command:
        case "bootstrap-admin":
            return await _bootstrap(accounts, args.name)
        case "add":
            await accounts.add_user(args.name, args.role, _password(args.password_stdin))
        case "passwd":
            await accounts.set_password(args.name, _password(args.password_stdin))
        case "role":
            await accounts.set_role(args.name, args.role)
        case "disable" | "enable":
            await accounts.set_disabled(args.name, args.command == "disable")
        case "unlock":
            await accounts.unlock(args.name)
        case "remove":
            await accounts.remove_user(args.name)
        case "token":
            return await _token(args, accounts)
        case _:
            rows = await accounts.users()
            print_rows(rows, ["name", "role", "disabled", "locked"], as_json=False)
            return ""
    _audit(f"user {args.command}", user=name, role=getattr(args, "role", None))
    return f"{args.command}: {name}"


async def run(args: argparse.Namespace, settings: CommonSettings) -> int:
    redis = connect_settings(settings)
    try:
        said = await dispatch(args, Accounts(redis))
    except AccountError as exc:
        sys.stderr.write(f"stocksync-users: {exc}\n")
        return 2
    finally:
        await redis.aclose()
    if said:
        sys.stdout.write(said + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging("stocksync-users")  # audit lines as JSON on stderr
    args = parser().parse_args(argv)
    return asyncio.run(run(args, load(UsersSettings)))


if __name__ == "__main__":
    raise SystemExit(main())
