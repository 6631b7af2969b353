"""URLs whose host is this machine as written, though not as `127.0.0.1` or `localhost`:
the short and numeric IPv4 forms getaddrinfo and browsers read as an address (`127.1`,
`0x7f.1`, `2130706433`) and the names of this machine whatever DNS says (`sub.localhost`,
`localhost.localdomain`). `catalog validate` passed them silently; the check refused the
numeric ones only once the system's resolver had read them, and reported the names as a DNS
failure where no resolver knows them. One rule now (`safety.refused_as_written`), applied
by both, before any lookup."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.check import check_targets
from catalog.check.safety import allowlist_entry, refused_as_written, written_address
from catalog.model import Target
from catalog.outcomes import Outcome
from catalog.settings import load_settings
from catalog.urls import parse_url
from flows.cli import app
from tests.local_site import local_site

runner = CliRunner()

NUMERIC = ["127.1", "0x7f.1", "0X7F.0.1", "0177.0.0.1", "2130706433", "0x7f000001", "127.0.1"]
NAMES = ["sub.localhost", "a.b.localhost", "localhost.localdomain", "LOCALHOST.localdomain."]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)


@pytest.mark.parametrize("host", NUMERIC)
def test_the_ipv4_forms_getaddrinfo_reads_are_the_address(host: str) -> None:
    assert written_address(host) == ipaddress.IPv4Address("127.0.0.1")
    assert allowlist_entry(host) == "127.0.0.1"  # "127.1" is no entry the list takes
    reason = refused_as_written(host, [])
    assert reason == (
        f"{host} (read as 127.0.0.1) is a loopback address (this machine), not a public "
        "Internet address"
    )
    assert refused_as_written(host, ["127.0.0.0/8"]) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [("10.1", "10.0.0.1"), ("192.168.257", "192.168.1.1"), ("0", "0.0.0.0"), ("1.2.3", "1.2.0.3")],
)
def test_short_forms_of_other_addresses(host: str, address: str) -> None:
    assert str(written_address(host)) == address


@pytest.mark.parametrize(
    "host",
    ["example.org", "1.2.3.4.5", "4294967296", "127.0.0.256", "08.1", "0x", "0x1g.1", "1e3", ""],
)
def test_names_and_what_is_no_address_are_not_read_as_one(host: str) -> None:
    assert written_address(host) is None
    assert refused_as_written(host, []) is None


@pytest.mark.parametrize("host", NAMES)
def test_names_of_this_machine_are_refused_unless_allowed(host: str) -> None:
    assert refused_as_written(host, []) is not None
    assert refused_as_written(host, ["127.0.0.0/8"]) is not None  # ::1 too, as localhost
    assert refused_as_written(host, ["127.0.0.0/8", "::1"]) is None
    assert refused_as_written(host, [host.rstrip(".").lower()]) is None
    assert refused_as_written("sub.localhost.example.org", []) is None


def _catalog(folder: Path, hosts: list[str], port: int = 8765) -> list[str]:
    urls = [f"http://{host}:{port}/report.html" for host in hosts]
    (folder / "c.yaml").write_text(
        "resources:\n"
        + "".join(f"  - id: r{n}\n    title: R{n}\n    url: {u}\n" for n, u in enumerate(urls))
    )
    return urls


def _warned(*args: str) -> dict[str, dict[str, Any]]:
    result = runner.invoke(app, ["catalog", "validate", "--json", *args])
    assert result.exit_code == 0, result.output
    found = [p for p in json.loads(result.stdout) if p["code"] == "private_address"]
    return {p["message"].split(": ")[1]: p for p in found}


def test_validate_warns_of_each_with_an_entry_the_allowlist_takes(isolated_cwd: Path) -> None:
    urls = _catalog(isolated_cwd, [*NUMERIC, *NAMES])
    warned = _warned("c.yaml")
    assert set(warned) == set(urls)
    message = warned["http://127.1:8765/report.html"]["message"]
    assert "127.1 (read as 127.0.0.1) is a loopback address" in message
    assert 'private_allowlist = ["127.0.0.1"]' in message
    assert 'private_allowlist = ["sub.localhost"]' in warned[urls[len(NUMERIC)]]["message"]
    # What it suggests, once in linkhealth.toml, silences it.
    (isolated_cwd / "linkhealth.toml").write_text(
        '[check]\nprivate_allowlist = ["127.0.0.1", "::1"]\n'
    )
    assert _warned("c.yaml") == {}


def test_the_check_refuses_them_as_written_without_asking_dns(isolated_cwd: Path) -> None:
    """A resolver that knows no name (as none here knows sub.localhost): each is
    private_address, as validate warned, not a DNS failure; nothing is looked up."""
    asked: list[str] = []

    async def knows_nothing(host: str, port: int) -> list[str]:
        asked.append(host)
        raise OSError(f"no address for {host}")

    urls = _catalog(isolated_cwd, [*NUMERIC, *NAMES])
    targets = [Target(url=u, host=parse_url(u).host) for u in urls]  # type: ignore[union-attr]
    seen = asyncio.run(check_targets(targets, load_settings().check, resolver=knows_nothing))
    assert {o.url: o.outcome for o in seen} == dict.fromkeys(urls, Outcome.PRIVATE_ADDRESS)
    assert asked == []
    assert set(_warned("c.yaml")) == set(urls)


@pytest.mark.parametrize(
    "settings",
    ["", '[check]\nprivate_allowlist = ["127.0.0.1"]', "[check]\nallow_private = true"],
)
def test_the_warning_foretells_the_check(isolated_cwd: Path, settings: str) -> None:
    """Under the same settings, validate warns of what the check refuses as private, and
    allowed, 0x7f.1 is fetched from the site on 127.0.0.1 (the system's resolver reads it;
    aiohttp refuses the all-decimal short forms, 127.1 and 2130706433, as invalid_url)."""
    with local_site() as site:
        port = int(site.base.rsplit(":", 1)[1])
        urls = _catalog(isolated_cwd, ["127.1", "2130706433", "0x7f.1"], port)
        (isolated_cwd / "linkhealth.toml").write_text(settings + "\n")
        warned = set(_warned("c.yaml"))
        targets = [Target(url=u, host=parse_url(u).host) for u in urls]  # type: ignore[union-attr]
        observations = asyncio.run(check_targets(targets, load_settings().check))
    refused = {o.url for o in observations if o.outcome is Outcome.PRIVATE_ADDRESS}
    assert warned == refused
    assert refused == (set(urls) if not settings else set())
    if settings:
        hex_form = next(o for o in observations if "0x7f.1" in o.url)
        assert hex_form.outcome is Outcome.OK, hex_form.reason


@pytest.mark.parametrize("host", ["localhost", "app.localhost"])
def test_a_name_of_this_machine_with_its_ipv4_loopback_allowed_is_the_lookups_to_judge(
    host: str,
) -> None:
    """`private_allowlist = ["127.0.0.1"]` and a resolver that answers 127.0.0.1 alone (a
    system without ::1 for localhost, as this one may be): the check fetched
    http://localhost/ before, connecting only where it looked; refused as written, it
    became private_address every night though nothing it would connect to is refused.
    Answered ::1 as well, it is refused for that address; validate, which looks nothing
    up, still warns of it (most systems answer both)."""

    async def ipv4_only(name: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async def both(name: str, port: int) -> list[str]:
        return ["127.0.0.1", "::1"]

    check = replace(load_settings().check, private_allowlist=("127.0.0.1",), max_attempts=1)
    assert refused_as_written(host, check.private_allowlist) is not None  # validate's warning
    with local_site() as site:
        port = int(site.base.rsplit(":", 1)[1])
        url = f"http://{host}:{port}/report.html"
        target = Target(url=url, host=host)
        (fetched,) = asyncio.run(check_targets([target], check, resolver=ipv4_only))
        (refused,) = asyncio.run(check_targets([target], check, resolver=both))
    assert fetched.outcome is Outcome.OK, fetched.reason
    assert refused.outcome is Outcome.PRIVATE_ADDRESS
    assert "::1" in refused.reason
