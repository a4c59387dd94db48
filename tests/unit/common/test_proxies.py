"""The client's address behind a proxy (stocksync_common.proxies): X-Forwarded-For is read
only from a trusted proxy, right to left, and a spoofed prefix is never reached."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from stocksync_common.proxies import Network, client_address
from stocksync_common.settings import CommonSettings, load

TRUSTED: list[Network] = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def test_no_trusted_proxy_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("10.0.0.1", ["192.0.2.1"], []) == "10.0.0.1"
    assert client_address("192.0.2.9", ["192.0.2.1"], TRUSTED) == "192.0.2.9"


def test_from_a_trusted_proxy_the_first_untrusted_hop_from_the_right() -> None:
    assert client_address("10.0.0.1", ["192.0.2.1"], TRUSTED) == "192.0.2.1"
    # a client's own prefix (spoofed) left of what the proxies appended is never reached
    assert client_address("10.0.0.1", ["6.6.6.6, 192.0.2.1, 10.2.2.2"], TRUSTED) == "192.0.2.1"
    # two headers are one list, in order
    assert client_address("10.0.0.1", ["6.6.6.6", "192.0.2.1"], TRUSTED) == "192.0.2.1"
    assert client_address("fd00::1", ["2001:db8::5"], TRUSTED) == "2001:db8::5"


def test_only_proxies_or_no_header_the_last_trusted_hop() -> None:
    assert client_address("10.0.0.1", [], TRUSTED) == "10.0.0.1"
    assert client_address("10.0.0.1", ["10.3.3.3"], TRUSTED) == "10.3.3.3"
    # not an address: no trusted proxy wrote it, so the walk stops at the last trusted hop
    assert client_address("10.0.0.1", ["unknown, 10.4.4.4"], TRUSTED) == "10.4.4.4"


def test_the_setting_is_a_comma_separated_list_empty_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert CommonSettings().trusted_proxies == []
    monkeypatch.setenv("STOCKSYNC_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
    assert CommonSettings().trusted_proxies == [
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
    ]
    monkeypatch.setenv("STOCKSYNC_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
    with pytest.raises(SystemExit):
        load(CommonSettings)
    assert "trusted_proxies" in capsys.readouterr().err
