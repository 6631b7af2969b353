"""Address safety: private, loopback and other non-public addresses are refused."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from catalog.check.safety import (
    AddressBook,
    check_allowlist,
    forbidden_address,
    host_allowlisted,
    system_resolver,
)
from catalog.errors import ConfigError


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.1.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.10",
        "198.18.0.1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "::127.0.0.1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "fec0:0:0:ffff::1",
        "ff02::1",
        "2001:db8::1",
        "[::1]",
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_forbidden(ip: str) -> None:
    assert forbidden_address(ip, ()) is not None


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700::1",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
    ],
)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert forbidden_address(ip, ()) is None


@pytest.mark.parametrize(
    ("ip", "allowlist"),
    [
        ("127.0.0.1", ["127.0.0.1"]),
        ("10.20.30.40", ["10.0.0.0/8"]),
        ("10.20.30.40", ["192.168.0.0/16", " 10.20.30.0/24 "]),
        ("fd00::5", ["fd00::/8"]),
        ("fe80::1%eth0", ["fe80::/10"]),
        ("10.0.0.7", ["intranet.example.org", "10.0.0.1/8"]),
    ],
)
def test_allowlisted_networks_are_allowed(ip: str, allowlist: list[str]) -> None:
    assert forbidden_address(ip, allowlist) is None


@pytest.mark.parametrize(
    ("ip", "allowlist"),
    [
        ("127.0.0.2", ["127.0.0.1"]),
        ("10.0.0.1", ["192.168.0.0/16"]),
        ("169.254.169.254", ["intranet.example.org"]),
    ],
)
def test_addresses_outside_the_allowlist_stay_forbidden(ip: str, allowlist: list[str]) -> None:
    assert forbidden_address(ip, allowlist) is not None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("intranet.example.org", True),
        ("INTRANET.example.org.", True),
        ("www.intranet.example.org", False),
        ("example.org", False),
        ("10.0.0.1", False),
    ],
)
def test_host_names_are_allowlisted_exactly(host: str, allowed: bool) -> None:
    assert host_allowlisted(host, ["intranet.example.org", "10.0.0.0/8"]) is allowed


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "300.1.1.1", "http://intranet.example.org", "*.example.org", "", "a b"]
)
def test_invalid_allowlist_entries_raise_config_errors_naming_them(entry: str) -> None:
    for call in (
        lambda: check_allowlist(["10.0.0.0/8", entry]),
        lambda: forbidden_address("10.0.0.1", [entry]),
        lambda: host_allowlisted("example.org", [entry]),
    ):
        with pytest.raises(ConfigError) as caught:
            call()
        assert repr(entry) in str(caught.value)


def test_valid_allowlist_passes_the_check() -> None:
    check_allowlist(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "intranet.example.org"])


def test_system_resolver_finds_loopback_for_localhost() -> None:
    addresses = asyncio.run(system_resolver("localhost", 80))
    assert addresses
    assert len(addresses) == len(set(addresses))
    assert all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def test_system_resolver_raises_for_an_invalid_name() -> None:
    async def lookup() -> list[str]:
        return await asyncio.wait_for(system_resolver("name.invalid", 443), timeout=15)

    # socket.gaierror is an OSError, as is the TimeoutError of a resolver that hangs.
    with pytest.raises(OSError):
        asyncio.run(lookup())


def test_the_address_book_looks_each_host_up_once_however_it_is_spelled() -> None:
    # The check reads a URL's host without its final dot, the connection as sent (a
    # redirect's Location may keep it); a second lookup would give a rebinding DNS server a
    # second chance to answer.
    asked: list[tuple[str, int]] = []

    async def dns(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34"]

    async def lookups() -> list[list[str]]:
        book = AddressBook(dns)
        spellings = ["example.org", "Example.ORG.", "example.org"]
        return [await book.addresses(host, 443) for host in spellings] + [
            await book.addresses("example.org", 8443)
        ]

    assert asyncio.run(lookups()) == [["93.184.216.34"]] * 4
    assert asked == [("example.org", 443), ("example.org", 8443)]


def test_the_address_book_says_so_when_a_host_has_no_address() -> None:
    async def empty(host: str, port: int) -> list[str]:
        return []

    with pytest.raises(OSError, match="no addresses"):
        asyncio.run(AddressBook(empty).addresses("example.org", 443))
