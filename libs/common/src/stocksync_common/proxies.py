"""The client's address behind a reverse proxy (#22).

The login and bearer throttles count failures per client address. Behind a proxy (an
ingress, a load balancer) every request's peer is the proxy, so every client would share one
counter; the proxy names the client in ``X-Forwarded-For``. That header is whatever the
sender wrote, so it is believed only from a proxy the deployment names
(``STOCKSYNC_TRUSTED_PROXIES``: addresses or CIDRs, comma-separated, empty by default):

- a peer that is not a trusted proxy is the client, whatever it sends (a spoofed header
  changes nothing);
- from a trusted proxy, the header's addresses are read right to left (each proxy appends
  the peer it saw), skipping trusted proxies: the first address that is not one is the
  client. What a client wrote itself sits left of that and is never reached. An entry that
  is not an address (which no trusted proxy writes) ends the walk at the last trusted hop.

uvicorn's own reading of the header is turned off (``stocksync_common.service.serve``): it
trusts 127.0.0.1 by default, and this module is the one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def split_list(value: object) -> object:
    """A comma-separated setting as a list (a list stays as it is)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer``, or from a trusted ``peer`` the first untrusted hop
    of the ``X-Forwarded-For`` headers (every header of that name, in order), read from the
    right."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    address = peer
    for hop in reversed(hops):
        try:
            address = str(ip_address(hop))
        except ValueError:
            return address  # no trusted proxy wrote this: stop at the last trusted hop
        if not _trusted(address, trusted):
            return address
    return address
