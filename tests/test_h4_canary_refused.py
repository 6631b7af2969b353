"""A canary the check refuses as private (the settings do not allow it) was never sent: it
proves nothing of our network, neither up nor down. Counted as answering, canaries
`[a DNS failure, http://10.0.0.1/]` said "1 of 2 canary URLs answered: our network works"."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from catalog import runs
from catalog.canary import check_canaries
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from flows.cli import app
from tests.factories import Ticker, days, settings_for, temporary_database, write_catalog

runner = CliRunner()
CHECK = CheckSettings(max_attempts=1, total_timeout=5)
GONE = "https://gone.example/"
UP = "https://up.example/"
PRIVATE = "http://10.0.0.1/"
REFUSED = (
    f"{PRIVATE} (a private address, not allowed by [check] allow_private or "
    "private_allowlist) was refused unasked, so it proves nothing either way."
)


async def resolver(host: str, port: int) -> list[str]:
    if host == "gone.example":
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return ["93.184.216.34"]


def transport(sent: list[str]) -> httpx.MockTransport:
    """`UP` answers; anything else sent is unreachable. Records each URL sent."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        if str(request.url) == UP:
            return httpx.Response(200)
        raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)

    return httpx.MockTransport(answer)


def test_a_refused_canary_does_not_pass_for_our_network_working() -> None:
    sent: list[str] = []
    verdict = check_canaries([GONE, PRIVATE], CHECK, transport=transport(sent), resolver=resolver)
    assert PRIVATE not in sent
    assert [o.outcome for o in verdict.observations] == [
        Outcome.DNS_ERROR,
        Outcome.PRIVATE_ADDRESS,
    ]
    assert verdict.network_down
    assert [o.url for o in verdict.asked] == [GONE]
    assert verdict.reason == (
        f"Not checked: the canary URL asked failed at the network level ({GONE}: domain not "
        "found), so our own network looked down and nothing was learned about this link. " + REFUSED
    )


def test_one_answering_beside_a_refused_canary_says_our_network_works() -> None:
    verdict = check_canaries([UP, PRIVATE], CHECK, transport=transport([]), resolver=resolver)
    assert not verdict.network_down
    assert verdict.reason == f"1 of 1 canary URL asked answered: our network works. {REFUSED}"


def test_with_every_canary_refused_nothing_is_known() -> None:
    local = "http://localhost:8080/"
    sent: list[str] = []
    verdict = check_canaries([PRIVATE, local], CHECK, transport=transport(sent), resolver=resolver)
    assert not sent and not verdict.asked and not verdict.network_down
    assert verdict.reason.startswith(
        "No canary URL was asked, so our network was not tested before the run. "
        f"{PRIVATE} (a private address, "
    )
    assert verdict.reason.endswith(
        f"{local} (a private address, not allowed by [check] allow_private or "
        "private_allowlist) were refused unasked, so they prove nothing either way."
    )


def test_a_canary_redirected_into_our_network_was_asked_and_answered() -> None:
    """A captive portal: the canary's own host answers with a redirect to a private
    address. That host answered, so our network works; it was not "refused unasked", and
    the operator is not told to allow a private address."""
    portal = "https://portal.example/"

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == portal:
            return httpx.Response(302, headers={"Location": "http://10.0.0.1/login"})
        raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)

    verdict = check_canaries(
        [GONE, portal], CHECK, transport=httpx.MockTransport(answer), resolver=resolver
    )
    assert [o.outcome for o in verdict.observations] == [
        Outcome.DNS_ERROR,
        Outcome.PRIVATE_ADDRESS,
    ]
    assert not verdict.unasked and not verdict.network_down
    assert verdict.reason == "1 of 2 canary URLs answered: our network works."


def test_a_private_canary_the_settings_allow_is_asked() -> None:
    sent: list[str] = []
    allowed = replace(CHECK, allow_private=True)
    verdict = check_canaries([GONE, PRIVATE], allowed, transport=transport(sent), resolver=resolver)
    assert PRIVATE in sent and verdict.network_down and not verdict.unasked
    assert verdict.reason.startswith("Not checked: all 2 canary URLs failed at the network level")


def test_a_run_whose_only_canary_asked_failed_is_offline_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It checked every link on a network the canary asked found down; the operator is
    told of the refused canary, which no reason says while the network works."""
    catalog_file = write_catalog(
        tmp_path / "kit.yaml", [{"id": "r0", "title": "R0", "url": "https://pub.example/"}]
    )
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog_file], canary_urls=(GONE, PRIVATE))
        settings = replace(settings, check=CHECK)
        with caplog.at_level(logging.WARNING, logger="catalog.runs"):
            prepared = runs.prepare_run(
                settings,
                trigger="schedule",
                clock=Ticker(days(1)),
                transport=transport([]),
                resolver=resolver,
            )
        assert prepared.network_down and not prepared.batches
        assert prepared.offline is not None
        assert prepared.offline.counts == {"network_unavailable": 1}
    assert f"canary_urls: {REFUSED}" in caplog.messages


def test_validate_warns_of_a_canary_the_check_will_refuse(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said where it can be fixed, not only in a night's log: a warning, exit 0."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    write_catalog(isolated_cwd / "kit.yaml", [{"id": "a", "title": "A", "url": UP}])
    settings = 'catalogs = ["kit.yaml"]\n\n[health]\ncanary_urls = ["{}", "{}"]\n'
    (isolated_cwd / "linkhealth.toml").write_text(settings.format(UP, PRIVATE))
    result = runner.invoke(app, ["catalog", "validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("kit.yaml: OK (0 warnings)\n")
    assert result.stderr == (
        f"warning: {Path('linkhealth.toml').resolve()}:4: health.canary_urls: {PRIVATE}: "
        "10.0.0.1 is a private-network or special-purpose address, not a public Internet "
        "address, so `linkhealth check` will not fetch it and "
        "it proves nothing of our network; name a public site that is always up "
        "[private_address]\n"
    )
    as_json = runner.invoke(app, ["catalog", "validate", "--json"])
    (warned,) = json.loads(as_json.stdout)
    assert warned["level"] == "warning" and warned["code"] == "private_address"


@pytest.mark.parametrize("check", ["allow_private = true", 'private_allowlist = ["10.0.0.0/8"]'])
def test_validate_is_silent_of_a_canary_the_settings_allow(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, check: str
) -> None:
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    write_catalog(isolated_cwd / "kit.yaml", [{"id": "a", "title": "A", "url": UP}])
    settings = f'catalogs = ["kit.yaml"]\n[check]\n{check}\n[health]\ncanary_urls = ["{PRIVATE}"]\n'
    (isolated_cwd / "linkhealth.toml").write_text(settings)
    result = runner.invoke(app, ["catalog", "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
