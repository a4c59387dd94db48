"""``stocksync-users`` on the real Redis: the first admin from the environment (once), a
token printed once and usable, refused operations said in words."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from stocksync_common.accounts import AccountError
from stocksync_common.accounts.cli import FIRST_ADMIN_ENV, dispatch, parser
from stocksync_common.accounts.store import Accounts
from support.accounts import scratch_accounts

pytestmark = pytest.mark.integration


@pytest.fixture
async def accounts(redis: Redis) -> AsyncIterator[Accounts]:
    async with scratch_accounts(redis) as accounts:
        yield accounts


async def run(accounts: Accounts, *argv: str) -> str:
    return await dispatch(parser().parse_args(list(argv)), accounts)


async def test_the_first_admin_comes_from_the_environment_once(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FIRST_ADMIN_ENV, raising=False)
    with pytest.raises(AccountError, match=FIRST_ADMIN_ENV):
        await run(accounts, "bootstrap-admin")
    monkeypatch.setenv(FIRST_ADMIN_ENV, "first admin password")
    assert await run(accounts, "bootstrap-admin", "--name", "root-ops") == "admin root-ops created"
    login = await accounts.login("root-ops", "first admin password", "10.0.0.1")
    assert login.principal is not None and login.principal.role == "admin"
    monkeypatch.setenv(FIRST_ADMIN_ENV, "another password!")
    assert "nothing done" in await run(accounts, "bootstrap-admin")
    assert [u["name"] for u in await accounts.users()] == ["root-ops"]


async def test_a_token_is_printed_once_and_revoked_by_id(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FIRST_ADMIN_ENV, "first admin password")
    await run(accounts, "bootstrap-admin")
    said = await run(accounts, "token", "issue", "admin", "--scopes", "read,operate")
    token = said.splitlines()[-1]
    found = await accounts.authenticate(token)
    assert found is not None and found.scopes == {"read", "operate"}
    token_id = token.split("_")[1]
    assert await run(accounts, "token", "revoke", token_id) == f"token {token_id} revoked"
    assert await accounts.authenticate(token) is None
    with pytest.raises(AccountError, match="no token"):
        await run(accounts, "token", "revoke", token_id)
    with pytest.raises(AccountError, match="scope"):
        await run(accounts, "token", "issue", "admin", "--scopes", "root")


def test_the_command_runs_in_a_pod_without_kafka_credentials(redis_url: str) -> None:
    """The console's pod (and the first-admin Job) get the shared Kafka settings (SASL_SSL)
    but no Kafka user: the command uses Redis only, so it must not ask for one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env |= {"STOCKSYNC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "STOCKSYNC_REDIS_URL": redis_url}
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "stocksync_common.accounts.cli", "list"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "name" in done.stdout
