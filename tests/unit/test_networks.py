"""Who the client is behind proxies, and its network for limits."""

from __future__ import annotations

import pytest

from regmail.networks import TrustedProxies, network_of


def test_ipv6_clients_are_counted_per_64_and_ipv4_per_address() -> None:
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:bbbb::2")
    assert network_of("2001:db8:1:2::1") != network_of("2001:db8:1:3::1")
    assert network_of("198.51.100.7") == "198.51.100.7"
    assert network_of("testclient") == "testclient"


def test_the_client_is_the_rightmost_address_no_trusted_proxy_is() -> None:
    trusted = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    # person → ingress 10.0.0.7 → sidecar 127.0.0.1 (the peer)
    assert trusted.client("127.0.0.1", None, "203.0.113.5, 10.0.0.7") == "203.0.113.5"
    # A client writing its own X-Forwarded-For gets the address the proxy saw instead.
    forged = "1.2.3.4, 203.0.113.5, 10.0.0.7"
    assert trusted.client("127.0.0.1", None, forged) == "203.0.113.5"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert trusted.client("198.51.100.9", None, "203.0.113.5") == "198.51.100.9"


def test_rfc_7239_forwarded_with_ports_and_ipv6() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    header = 'for=192.0.2.60;proto=https, for="[2001:db8::17]:4711";by=10.0.0.1'
    assert trusted.client("10.1.2.3", header, None) == "2001:db8::17"
    assert trusted.client("10.1.2.3", "for=192.0.2.60:8080", "9.9.9.9") == "192.0.2.60"


def test_a_chain_of_only_trusted_proxies_gives_the_leftmost() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert trusted.client("10.0.0.1", None, "10.0.0.3, 10.0.0.2") == "10.0.0.3"


def test_a_bad_cidr_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        TrustedProxies(["10.0.0.0/33"])
