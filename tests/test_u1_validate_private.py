"""`catalog validate` warns about a URL the check will not fetch as private (an address
or localhost that linkhealth.toml does not allow), where the curator can still fix it or
the settings, instead of only the night's `private_address`. A warning: exit 0."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.check import check_targets
from catalog.model import Target
from catalog.outcomes import Outcome
from catalog.settings import load_settings
from catalog.urls import parse_url
from flows.cli import app
from tests.local_site import local_site

runner = CliRunner()

INTRANET = """\
collection:
  title: Intranet
resources:
  - id: loopback
    title: Loopback
    url: http://127.0.0.1:8765/page
  - id: named
    title: Localhost
    url: http://localhost:8765/page
  - id: office
    title: Office
    url: https://192.168.1.20/handbook
  - id: v6
    title: IPv6 loopback
    url: http://[::1]/
  - id: public
    title: Public
    url: https://example.org/
  - id: intranet
    title: A name only DNS can tell
    url: https://intranet.example.org/
"""


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)


def _warned(*args: str) -> dict[str, dict[str, Any]]:
    """`catalog validate --json`'s private_address warnings by URL; it must exit 0."""
    result = runner.invoke(app, ["catalog", "validate", "--json", *args])
    assert result.exit_code == 0, result.output
    found = [p for p in json.loads(result.stdout) if p["code"] == "private_address"]
    assert all(p["level"] == "warning" for p in found)
    return {p["message"].split(": ")[1]: p for p in found}


def test_validate_names_the_file_line_and_url_and_what_to_do(isolated_cwd: Path) -> None:
    (isolated_cwd / "intranet.yaml").write_text(INTRANET)
    result = runner.invoke(app, ["catalog", "validate", "intranet.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "intranet.yaml: OK (4 warnings)\n"
    assert result.stderr.splitlines()[0] == (
        "warning: intranet.yaml:6: url: resource 'loopback': http://127.0.0.1:8765/page: "
        "127.0.0.1 is a loopback address (this machine), not a public Internet address, so "
        "`linkhealth check` will not fetch it (reported as private_address); for an intranet "
        'catalog allow it in linkhealth.toml, under [check]: private_allowlist = ["127.0.0.1"] '
        "(or allow_private = true), or run check with --allow-private [private_address]"
    )
    warned = _warned("intranet.yaml")
    assert {url: p["line"] for url, p in warned.items()} == {
        "http://127.0.0.1:8765/page": 6,
        "http://localhost:8765/page": 9,
        "https://192.168.1.20/handbook": 12,
        "http://[::1]/": 15,
    }
    assert 'private_allowlist = ["localhost"]' in warned["http://localhost:8765/page"]["message"]
    assert 'private_allowlist = ["::1"]' in warned["http://[::1]/"]["message"]


@pytest.mark.parametrize(
    ("settings", "still_warned"),
    [
        ("allow_private = true", set()),
        (
            'private_allowlist = ["127.0.0.0/8", "192.168.0.0/16"]',
            # localhost resolves to ::1 too on most systems (see below)
            {"http://[::1]/", "http://localhost:8765/page"},
        ),
        (
            'private_allowlist = ["localhost", "::1"]',
            {"http://127.0.0.1:8765/page", "https://192.168.1.20/handbook"},
        ),
    ],
)
def test_none_for_what_the_settings_allow(
    isolated_cwd: Path, settings: str, still_warned: set[str]
) -> None:
    (isolated_cwd / "intranet.yaml").write_text(INTRANET)
    (isolated_cwd / "linkhealth.toml").write_text(f"[check]\n{settings}\n")
    assert set(_warned("intranet.yaml")) == still_warned
    # The configured catalogs (no file named) are judged by the same settings.
    (isolated_cwd / "linkhealth.toml").write_text(
        f'catalogs = ["intranet.yaml"]\n[check]\n{settings}\n'
    )
    assert set(_warned()) == still_warned


def test_every_way_a_catalog_is_read(isolated_cwd: Path) -> None:
    """libyaml's fast path, the precise parser (an anchor) and a CSV file each say it."""
    (isolated_cwd / "plain.yaml").write_text(INTRANET)
    (isolated_cwd / "anchored.yaml").write_text(
        INTRANET.replace("title: Loopback", "title: &t Loopback")
    )
    (isolated_cwd / "sheet.csv").write_text(
        "id,title,url\nhost,Host,http://10.0.0.5/wiki\npublic,Public,https://example.org/\n"
    )
    warned = runner.invoke(app, ["catalog", "validate", "--json", "."])
    assert warned.exit_code == 0, warned.output
    lines = {
        (Path(p["file"]).name, p["line"])
        for p in json.loads(warned.stdout)
        if p["code"] == "private_address"
    }
    assert lines == {
        *((name, line) for name in ("plain.yaml", "anchored.yaml") for line in (6, 9, 12, 15)),
        ("sheet.csv", 2),
    }


def test_an_invalid_url_still_warns_as_before_beside_it(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(
        INTRANET + "  - id: bad\n    title: Bad\n    url: htp://x\n"
    )
    result = runner.invoke(app, ["catalog", "validate", "--json", "c.yaml"])
    assert result.exit_code == 0
    codes = [(p["line"], p["code"]) for p in json.loads(result.stdout)]
    assert codes == [
        (6, "private_address"),
        (9, "private_address"),
        (12, "private_address"),
        (15, "private_address"),
        (24, "invalid_url"),
    ]


@pytest.mark.parametrize(
    "settings",
    [
        "",
        "[check]\nallow_private = true",
        '[check]\nprivate_allowlist = ["localhost"]',
        '[check]\nprivate_allowlist = ["127.0.0.0/8", "::1"]',
    ],
)
def test_the_warning_foretells_the_check(isolated_cwd: Path, settings: str) -> None:
    """What validate warns about is what the check, under the same settings, refuses as
    private_address: a real request to a site on 127.0.0.1 for the others."""
    with local_site() as site:
        port = site.base.rsplit(":", 1)[1]
        urls = [f"http://{host}:{port}/report.html" for host in ("127.0.0.1", "localhost")]
        (isolated_cwd / "c.yaml").write_text(
            "resources:\n"
            + "".join(f"  - id: r{n}\n    title: R{n}\n    url: {u}\n" for n, u in enumerate(urls))
        )
        (isolated_cwd / "linkhealth.toml").write_text(settings + "\n")
        warned = set(_warned("c.yaml"))
        check = load_settings().check
        targets = [Target(url=u, host=parse_url(u).host) for u in urls]  # type: ignore[union-attr]
        observations = asyncio.run(check_targets(targets, check))
    refused = {o.url for o in observations if o.outcome is Outcome.PRIVATE_ADDRESS}
    assert warned == refused


def test_a_broken_settings_file_does_not_stop_validating_named_files(isolated_cwd: Path) -> None:
    """As before the warning: files named are validated whatever linkhealth.toml holds;
    only the settings' warnings are left out, and the broken file is said (exit 2:
    tests/test_u2_validate_broken_settings.py)."""
    (isolated_cwd / "intranet.yaml").write_text(INTRANET)
    (isolated_cwd / "linkhealth.toml").write_text("[check\n")
    result = runner.invoke(app, ["catalog", "validate", "--json", "intranet.yaml"])
    assert result.exit_code == 2, result.output
    assert [p for p in json.loads(result.stdout) if p["code"] == "private_address"] == []
    assert "linkhealth.toml:1: not valid TOML" in result.stderr


@pytest.mark.parametrize("allowed", ['"127.0.0.1"', '"127.0.0.0/8"', '"127.0.0.0/8", "10.0.0.0/8"'])
def test_localhost_with_only_ipv4_loopback_allowed_is_still_warned(
    isolated_cwd: Path, allowed: str
) -> None:
    """Most systems resolve localhost to ::1 as well as 127.0.0.1 (Debian's /etc/hosts),
    and the check refuses a host for one address the allow-list lacks: validate said
    nothing of localhost with 127.0.0.0/8 allowed, and the night reported private_address."""

    async def both_loopbacks(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "::1"]

    url = "http://localhost:8765/page"
    (isolated_cwd / "c.yaml").write_text(f"resources:\n  - id: a\n    title: A\n    url: {url}\n")
    (isolated_cwd / "linkhealth.toml").write_text(f"[check]\nprivate_allowlist = [{allowed}]\n")
    warned = _warned("c.yaml")
    assert set(warned) == {url}
    assert "::1" in warned[url]["message"]
    assert 'private_allowlist = ["localhost"]' in warned[url]["message"]
    target = Target(url=url, host="localhost")
    (seen,) = asyncio.run(check_targets([target], load_settings().check, resolver=both_loopbacks))
    assert seen.outcome is Outcome.PRIVATE_ADDRESS
    # Named, or both loopbacks allowed: neither warned nor refused.
    for listed in ('"localhost"', '"127.0.0.0/8", "::1"'):
        (isolated_cwd / "linkhealth.toml").write_text(f"[check]\nprivate_allowlist = [{listed}]\n")
        assert _warned("c.yaml") == {}
        (seen,) = asyncio.run(
            check_targets([target], load_settings().check, resolver=both_loopbacks)
        )
        assert seen.outcome is not Outcome.PRIVATE_ADDRESS
