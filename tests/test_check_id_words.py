"""`linkhealth check --id` prints each named entry's verdict as `recheck` does, in words
naming the command the curator ran: an entry the run learned nothing of read "not checked
by this recheck" though no recheck had run."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import copy_migrated_sqlite, make_observation, write_catalog

runner = CliRunner()


@pytest.mark.flow
def test_check_id_with_our_network_down_names_check_not_recheck(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """Our network down (the canary answers nothing): the entry's verdict says this
    `check --id` did not check it, then its last known state, as a recheck's says of itself."""
    with socket.socket() as a, socket.socket() as b:  # two ports nobody listens on
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{a.getsockname()[1]}/x"
        canary = f"http://127.0.0.1:{b.getsockname()[1]}/"
    catalog_file = isolated_cwd / "test.yaml"
    write_catalog(catalog_file, [{"id": "dead", "title": "Dead Host Page", "url": dead}])
    (isolated_cwd / "linkhealth.toml").write_text(
        f'database_url = "sqlite:///var/lh.db"\ncatalogs = ["{catalog_file}"]\n'
        f'[check]\nallow_private = true\n[health]\ncanary_urls = ["{canary}"]\n',
        encoding="utf-8",
    )
    copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
    engine = open_engine("sqlite:///var/lh.db")
    checked = utcnow() - timedelta(days=1)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=checked)
    refused = make_observation(dead, Outcome.CONNECTION_REFUSED, checked_at=checked)
    store.record_observations(engine, None, [refused], HealthSettings(), now=checked)
    engine.dispose()

    result = runner.invoke(app, ["check", "--id", "dead", "--no-report"])
    said = [li for li in result.stdout.splitlines() if li.startswith("test/dead: ")]
    assert len(said) == 1, result.output
    (line,) = said
    assert line.startswith("test/dead: not checked by this check --id: our network was down.")
    assert f"Last known state, from its check of {checked:%Y-%m-%d %H:%M} UTC: Connection" in line
    assert "recheck" not in line, line
