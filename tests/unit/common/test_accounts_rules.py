"""The accounts' pure rules: what each role may, the scope a request needs, token shape,
names, scopes and passwords refused in words."""

from __future__ import annotations

import pytest

from stocksync_common.accounts import (
    ROLE_SCOPES,
    AccountError,
    Principal,
    check_password,
    new_token,
    parse_scopes,
    scope_for,
    split_token,
    valid_name,
    valid_role,
)


def test_roles_nest_and_a_change_needs_operate() -> None:
    assert ROLE_SCOPES["viewer"] < ROLE_SCOPES["operator"] < ROLE_SCOPES["admin"]
    assert [scope_for(m) for m in ("GET", "head", "POST", "PUT", "DELETE", "PATCH")] == [
        "read", "read", "operate", "operate", "operate", "operate",
    ]  # fmt: skip


def test_a_token_is_shown_once_and_only_its_digest_is_kept() -> None:
    token_id, token, digest = new_token()
    assert split_token(token) is not None and split_token(token)[0] == token_id  # type: ignore[index]
    assert split_token(token)[1] not in digest  # type: ignore[index]
    assert new_token()[1] != token
    for bad in ("", "sst_", token + "x", token.replace("sst_", "sst-"), f"Bearer {token}"):
        assert split_token(bad) is None, bad


@pytest.mark.parametrize("name", ["Alice", "", "a b", "admin-token", "x" * 65, "-lead"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(AccountError):
        valid_name(name)


def test_scopes_roles_and_passwords_are_checked() -> None:
    assert parse_scopes(" read, operate ") == {"read", "operate"}
    for bad in ("", "read,root", ","):
        with pytest.raises(AccountError):
            parse_scopes(bad)
    with pytest.raises(AccountError, match="role"):
        valid_role("root")
    with pytest.raises(AccountError, match="12"):
        check_password("short")


def test_the_caller_names_user_credential_and_address_never_a_secret() -> None:
    p = Principal("olga", "operator", ROLE_SCOPES["operator"], "token:0123456789abcdef")
    assert p.caller("10.0.0.1") == "olga/token:0123456789abcdef@10.0.0.1"
    assert p.may("operate") and not p.may("admin")
    boot = Principal("admin-token", "admin", ROLE_SCOPES["admin"], "admin-token:abcd1234")
    assert boot.caller("10.0.0.2") == "admin-token:abcd1234@10.0.0.2"
