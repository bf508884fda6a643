"""Who a client is, as far as limits go: its network, read through trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def network_of(client: str) -> str:
    """The client's own network: the address for IPv4, its /64 for IPv6 (one subscriber
    gets a whole /64, so counting per /128 would give each person 2**64 budgets)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:  # not an IP (a test client, a Unix socket): one bucket for it
        return client
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def parse_networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    """CIDRs (a bare address means just it); ValueError naming a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP network like 10.0.0.0/8") from None
    return networks


class TrustedProxies:
    """Whose forwarding headers are believed, and what they say the client is.

    The chain is read from the right: the peer, then each hop a trusted proxy appended,
    until the first address no trusted proxy vouches for. That is the client; anything
    left of it was written by the client itself and could say anything.
    """

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks = parse_networks(cidrs)

    def trusts(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client(self, peer: str, forwarded: str | None, forwarded_for: str | None) -> str:
        """The client's address, given the TCP peer and its `Forwarded` (RFC 7239) or
        `X-Forwarded-For` header (`Forwarded` wins when both are there)."""
        if not self.trusts(peer):
            return peer
        hops = _forwarded_hops(forwarded) if forwarded else _xff_hops(forwarded_for or "")
        client = peer
        for hop in reversed(hops):
            client = hop
            if not self.trusts(hop):
                break
        return client


def _xff_hops(header: str) -> list[str]:
    return [_bare_host(hop) for hop in header.split(",") if hop.strip()]


def _forwarded_hops(header: str) -> list[str]:
    hops = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.lower() == "for" and value:
                hops.append(_bare_host(value.strip('"')))
    return hops


def _bare_host(hop: str) -> str:
    """`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1` → the address."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
