"""Address safety: never let a catalog URL make us fetch from our own network.

Stage: check (guard before connecting). Inputs: a host's resolved IP addresses and the
operator's allow-list (`CheckSettings.private_allowlist`). Outputs: a reason when an
address is not publicly routable (loopback, private, link-local incl. the cloud
metadata address 169.254.169.254, CGNAT, multicast, reserved ...), else None.

The addresses a host resolved to are looked up once per run (`AddressBook`) and both the
check and the connection read them there: a DNS server that answers a public address to
the check and a private one a moment later (DNS rebinding) cannot steer the connection.

Allow-list entries are IP networks ("10.0.0.0/8"), single IPs ("127.0.0.1") or exact
host names ("intranet.example.org"); host names let the checker skip the address check
for an intranet host without knowing its addresses in advance.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import lru_cache

from catalog.errors import ConfigError

__all__ = [
    "AddressBook",
    "Resolver",
    "allow_private_words",
    "allowlist_entry",
    "check_allowlist",
    "forbidden_address",
    "forbidden_host",
    "host_allowlisted",
    "is_ip_address",
    "is_loopback_name",
    "refused_as_written",
    "system_resolver",
    "written_address",
]

#: host, port -> IP address strings; raises socket.gaierror / OSError when DNS fails.
Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Shared address space for carrier-grade NAT (RFC 6598); `ipaddress` calls it neither
#: private nor global, so it needs naming.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
#: NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway will connect to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves `host` to, in its order, deduplicated."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressBook:
    """Each host's addresses, resolved once per run and shared by the address check and
    the connection (`transport.AiohttpPool`), so we connect to what we checked."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self._resolver = resolver or system_resolver
        self._lookups: dict[tuple[str, int], asyncio.Task[list[str]]] = {}

    async def addresses(self, host: str, port: int) -> list[str]:
        """Raises `socket.gaierror` (an OSError) when the host has none. A deadline on one
        URL cancels its wait, never the lookup other URLs of the host share. "Example.org."
        and "example.org" are one entry: the check reads the URL's host without the final
        dot, the connection reads it as sent (a redirect's Location may keep the dot), and
        two lookups would be two chances to answer."""
        key = (_host_key(host), port)
        task = self._lookups.get(key)
        if task is None:
            task = self._lookups[key] = asyncio.ensure_future(self._lookup(host, port))
        return await asyncio.shield(task)

    def pending(self) -> list[asyncio.Task[list[str]]]:
        return [task for task in self._lookups.values() if not task.done()]

    async def _lookup(self, host: str, port: int) -> list[str]:
        addresses = list(await self._resolver(host, port))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "no addresses for the host name")
        return addresses


def forbidden_address(ip: str, allowlist: Sequence[str]) -> str | None:
    """Why connecting to `ip` is not allowed, or None when it is publicly routable or listed."""
    try:
        address = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return f"{ip!r} is not an IP address"
    reason = _why_forbidden(address, allowlist)
    return None if reason is None else f"{ip} is {reason}, not a public Internet address"


def _why_forbidden(address: IPAddress, allowlist: Sequence[str]) -> str | None:
    networks, _hosts = _parse_allowlist(tuple(allowlist))
    if any(_unscoped(address) in net for net in networks):
        return None
    return _why_not_public(address)


def forbidden_host(host: str, addresses: Iterable[str], allowlist: Sequence[str]) -> str | None:
    """Why connecting to `host`, which resolved to `addresses` (the host itself when it is
    an IP address), is not allowed, or None: the one rule of every fetch, the checker's and
    an import's. A host named in the allow-list may be anywhere; any other is refused for
    one address that is not public nor listed, since the connection may take any of them."""
    if host_allowlisted(host, allowlist):
        return None
    written = refused_as_written(host, allowlist, looked_up=True)
    if written is not None:
        return written
    return next(filter(None, (forbidden_address(a, allowlist) for a in addresses)), None)


def refused_as_written(
    host: str, allowlist: Sequence[str], *, looked_up: bool = False
) -> str | None:
    """Why the check (and an import) will refuse `host` whatever DNS says, or None: an IP
    address, however it is written (`written_address`: "127.1" too), that is not public
    nor listed, or a name of this machine (`is_loopback_name`: localhost, sub.localhost)
    unless it, or both 127.0.0.1 and ::1, are listed: most systems resolve localhost to
    both, and the check refuses a host for one address not allowed. Any other name may
    resolve anywhere: None, looking nothing up (`catalog validate` applies this rule too,
    so that it warns of what the check refuses).

    `looked_up`: the caller looks the name up next and judges each address it answers
    (the check, an import). A name of this machine whose 127.0.0.1 is allowed is then the
    lookup's to judge: refused for a ::1 among its answers, fetched where it answers
    127.0.0.1 alone (a system without ::1 for localhost), as before this rule; `catalog
    validate`, which looks nothing up, warns of it, since most systems answer both."""
    if host_allowlisted(host, allowlist):
        return None
    address = written_address(host)
    if address is not None:
        if is_ip_address(host):
            return forbidden_address(host, allowlist)
        reason = _why_forbidden(address, allowlist)
        if reason is None:
            return None
        return f"{host} (read as {address}) is {reason}, not a public Internet address"
    if not is_loopback_name(host):
        return None
    name = _host_key(host)
    if forbidden_address("127.0.0.1", allowlist):
        return f"{name} is this machine (a loopback address), not a public Internet address"
    if forbidden_address("::1", allowlist) and not looked_up:
        return (
            f"{name} is this machine, and ::1, its IPv6 loopback address that most systems "
            "resolve it to as well, is not allowed"
        )
    return None


def is_loopback_name(host: str) -> bool:
    """Whether `host` names this machine whatever DNS says: `localhost`, a name under it
    (`sub.localhost`: RFC 6761, which browsers and systemd-resolved send to the loopback
    address) or `localhost.localdomain` (given 127.0.0.1 in many systems' /etc/hosts)."""
    key = _host_key(host)
    return key in ("localhost", "localhost.localdomain") or key.endswith(".localhost")


def written_address(host: str) -> IPAddress | None:
    """The IP address `host` is written as, or None for a name: an IPv6 address (in
    brackets or not), or an IPv4 address in any form getaddrinfo (inet_aton) and browsers
    read as one, not only 127.0.0.1: "127.1", "0x7f.1", "0177.0.0.1", "2130706433" (one to
    four numbers, decimal, 0x hex or 0-led octal, the last filling the bytes left), a
    final dot aside. The check connects where getaddrinfo reads such a host, so "127.1"
    is this machine as much as 127.0.0.1."""
    text = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_inet_number(part) for part in parts]
    if None in numbers:
        return None
    *head, last = (n for n in numbers if n is not None)
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = last
    for at, number in enumerate(head):
        value |= number << (8 * (3 - at))
    return ipaddress.IPv4Address(value)


def _inet_number(part: str) -> int | None:
    """One part of an IPv4 address as inet_aton reads it: decimal, 0x hex, 0-led octal."""
    if part[:2].lower() == "0x":
        digits, allowed, base = part[2:], "0123456789abcdefABCDEF", 16
    elif len(part) > 1 and part[0] == "0":
        digits, allowed, base = part[1:], "01234567", 8
    else:
        digits, allowed, base = part, "0123456789", 10
    if not digits or not all(c in allowed for c in digits):
        return None
    return int(digits, base)


def allowlist_entry(host: str) -> str:
    """The `private_allowlist` entry that allows `host`: its address for an IP address
    however written ("127.1" is no entry the list takes), else the name."""
    address = written_address(host)
    return str(_unscoped(address)) if address is not None else host


#: Most allow-list entries `allow_private_words` names; more are elided (", ...").
ALLOW_WORDS_ENTRIES = 5


def allow_private_words(entries: Sequence[str], *, them: bool = False) -> str:
    """How to have the check fetch what it refused as private, in the words `catalog
    validate` warns with and a run's summary repeats (one text, so they never part).
    `entries`: the `private_allowlist` entries that would allow it (`allowlist_entry`);
    none known (only a redirect's target was refused) is a `HOST` to fill in."""
    shown = [f'"{e}"' for e in entries[:ALLOW_WORDS_ENTRIES]] or ['"HOST"']
    if len(entries) > ALLOW_WORDS_ENTRIES:
        shown.append("...")
    return (
        f"for an intranet catalog allow {'them' if them else 'it'} in linkhealth.toml, under "
        f"[check]: private_allowlist = [{', '.join(shown)}] (or allow_private = true), or run "
        "check with --allow-private"
    )


def is_ip_address(host: str) -> bool:
    """Whether `host` is an IP address (an IPv6 one in brackets or not), not a name to look up."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def host_allowlisted(host: str, allowlist: Sequence[str]) -> bool:
    """True when `host` is named exactly (case and trailing dot aside) in the allow-list."""
    _networks, hosts = _parse_allowlist(tuple(allowlist))
    return _host_key(host) in hosts


def _host_key(host: str) -> str:
    """One spelling per host name: a URL's host, a redirect's Location ("Example.org.") and
    an allow-list entry name the same host whatever their case and final dot."""
    return host.strip().rstrip(".").lower()


def check_allowlist(allowlist: Sequence[str]) -> None:
    """Raise `ConfigError` naming the first entry that is neither a network, an IP nor a host."""
    _parse_allowlist(tuple(allowlist))


def _why_not_public(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = _why_not_public(embedded)
            return None if inner is None else f"{inner} (as IPv4 {embedded} inside IPv6)"
    # Order: the most specific, most useful words first.
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        if address == ipaddress.IPv4Address("169.254.169.254"):
            return "the cloud metadata address (link-local)"
        return "a link-local address"
    if address.is_multicast:  # `is_global` is True for some multicast ranges
        return "a multicast address"
    if address in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        # fec0::/10, IPv6's first private range: deprecated (RFC 3879) yet still routed
        # inside networks that kept it, and `ipaddress` calls it global.
        return "a site-local address (fec0::/10)"
    if address.is_private:
        return "a private-network or special-purpose address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a publicly routable address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any.

    `ipaddress` judges ::ffff:127.0.0.1 and 64:ff9b::7f00:1 as global IPv6, yet
    connecting to them reaches 127.0.0.1.
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _unscoped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


@lru_cache(maxsize=32)
def _parse_allowlist(entries: tuple[str, ...]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in entries:
        text = entry.strip() if isinstance(entry, str) else ""
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
            continue
        except ValueError:
            pass
        name = _host_key(text)
        if not _is_host_name(name):
            raise ConfigError(
                f"check.private_allowlist: {entry!r} is neither an IP address, a network "
                "(e.g. 10.0.0.0/8) nor a host name (e.g. intranet.example.org)"
            )
        hosts.add(name)
    return tuple(networks), frozenset(hosts)


def _is_host_name(name: str) -> bool:
    if not name or len(name) > 253 or name.replace(".", "").isdigit():
        return False
    labels = name.split(".")
    return all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c in "-_" for c in label)
        for label in labels
    )
