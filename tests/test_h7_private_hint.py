"""A run that refused URLs as private says how to allow them, in `catalog validate`'s words:
`linkhealth check --catalog X.yaml` of a catalog on 127.0.0.1 said only "Outcomes: 3
private address." and exited 0, leaving a curator trying it nothing to do but guess."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from catalog import runs
from catalog.check import check_targets
from catalog.check.safety import allow_private_words
from catalog.settings import CheckSettings
from flows.cli import app
from tests.factories import Ticker, days, settings_for, temporary_database, write_catalog

#: Refused as written (two ports of one address, and 127.0.0.1 in a short form), by what
#: the name resolves to, and only at a public page's redirect.
URLS = {
    "a": "http://127.0.0.1:8001/a",
    "b": "http://127.0.0.1:8002/b",
    "c": "http://0x7f.1/c",
    "nas": "https://nas.example.org/files",
    "moved": "https://pub.example/moved",
    "ok": "https://pub.example/ok",
}


async def resolve(host: str, port: int) -> list[str]:
    return ["10.0.0.9"] if host == "nas.example.org" else ["93.184.216.34"]


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/moved":
        return httpx.Response(301, headers={"Location": "http://10.1.2.3/files"})
    return httpx.Response(200, html="<title>Ok</title>")


def _summary(tmp_path: Path, urls: dict[str, str]) -> list[str]:
    """The summary lines of a run of `urls` (ids to URLs), as the flow makes it."""
    entries = [{"id": rid, "title": rid.upper(), "url": url} for rid, url in urls.items()]
    catalog = write_catalog(tmp_path / "intranet.yaml", entries)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog])
        check = CheckSettings(max_attempts=1, total_timeout=5)
        clock = Ticker(days(1))
        prepared = runs.prepare_run(settings, trigger="manual", clock=clock)
        stored = []
        for batch in prepared.batches:
            observations = asyncio.run(
                check_targets(
                    list(batch.targets),
                    check,
                    transport=httpx.MockTransport(answer),
                    resolver=resolve,
                    clock=clock,
                )
            )
            stored.append(runs.store_batch(settings, prepared.run_id, observations, clock=clock))
        summary = runs.finish_run(
            settings, prepared.run_id, stored=stored, sync=prepared.sync, clock=clock
        )
    return summary.lines()


def test_the_summary_says_which_hosts_to_allow(tmp_path: Path) -> None:
    lines = _summary(tmp_path, URLS)
    assert "Outcomes: 1 OK, 5 private address." in lines
    (hint,) = [line for line in lines if "private_allowlist" in line]
    # Each host once, as the allow-list takes it; a redirect's public host is not one.
    allow = allow_private_words(["127.0.0.1", "nas.example.org"], them=True)
    assert hint == f"Not fetched: 5 URLs on a private address; {allow}."
    assert lines.index(hint) == lines.index("Outcomes: 1 OK, 5 private address.") + 1


def test_a_run_without_private_refusals_says_nothing_of_them(tmp_path: Path) -> None:
    lines = _summary(tmp_path, {"ok": URLS["ok"]})
    assert not [line for line in lines if "private" in line]


def test_only_a_redirect_refused_names_a_host_to_fill_in(tmp_path: Path) -> None:
    (hint,) = [x for x in _summary(tmp_path, {"m": URLS["moved"]}) if "private_allowlist" in x]
    assert hint == f"Not fetched: 1 URL on a private address; {allow_private_words([])}."
    assert 'private_allowlist = ["HOST"]' in hint


@pytest.mark.flow
def test_check_of_a_catalog_on_127_0_0_1_says_how_to_allow_it_as_validate_does(
    prefect_api: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walkthrough's trial: `check --catalog X.yaml --db sqlite:///var/trial.db`."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    trial = {k: URLS[k] for k in "ab"} | {"d": "http://127.0.0.1:8001/d"}
    entries = [{"id": rid, "title": rid.upper(), "url": url} for rid, url in trial.items()]
    write_catalog(isolated_cwd / "X.yaml", entries)
    result = CliRunner().invoke(
        app, ["check", "--catalog", "X.yaml", "--db", "sqlite:///var/trial.db", "--no-report"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Outcomes: 3 private address." in lines
    (hint,) = [line for line in lines if line.startswith("Not fetched: ")]
    validated = CliRunner().invoke(app, ["catalog", "validate", "--json", "X.yaml"])
    warnings = [p["message"] for p in json.loads(validated.stdout)]
    assert len(warnings) == 3
    # The same words: "allow it" of one URL there, "allow them" of three here.
    words = warnings[0].split("; for an intranet catalog allow it ", 1)[1]
    assert (
        hint
        == f"Not fetched: 3 URLs on a private address; for an intranet catalog allow them {words}."
    )
