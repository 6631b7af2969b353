"""`check --id KEY/ID` and `recheck KEY/ID --changed` as a curator types them, against two
catalogs that both use the id `r1` (each its own URL on a local site): KEY/ID names that
catalog's entry alone, and what `--changed` picks is checked besides it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.factories import copy_migrated_sqlite, write_catalog
from tests.local_site import Site, local_site

runner = CliRunner()


def _two_catalogs(folder: Path, site: Site, other_r1: str = "/missing") -> None:
    write_catalog(
        folder / "toolkit.yaml",
        [{"id": "r1", "title": "Annual Report", "url": f"{site.base}/report.html"}],
    )
    write_catalog(
        folder / "other.yaml",
        [
            {"id": "r1", "title": "A Guide", "url": f"{site.base}{other_r1}"},
            {"id": "r5", "title": "Home", "url": f"{site.base}/"},
        ],
    )
    (folder / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml", "other.yaml"]\n'
        "[check]\nallow_private = true\n",
        encoding="utf-8",
    )
    copy_migrated_sqlite(folder / "var" / "lh.db")  # checked into, not migrated, here


@pytest.mark.flow
def test_check_id_key_slash_id_checks_that_catalogs_entry_only(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """`check --id toolkit/r1` checked r1 of every catalog (other's URL too), as if the
    key were not there; unknown keys and ids are refused naming what was typed."""
    with local_site() as site:
        _two_catalogs(isolated_cwd, site)
        for typed in ("nokey/r1", "toolkit/r9", "toolkit/r5"):
            refused = runner.invoke(app, ["check", "--id", typed, "--no-report"])
            assert refused.exit_code == 4, refused.output
            assert f"'{typed}'" in refused.stderr
        assert not site.hits
        result = runner.invoke(app, ["check", "--id", "toolkit/r1", "--no-report"])
        narrowed = dict(site.hits)
        site.hits.clear()
        # A bare id, as recheck takes it: in every catalog using it.
        bare = runner.invoke(app, ["check", "--id", "r1", "--no-report"])
        everywhere = dict(site.hits)
    assert result.exit_code == 0, result.output
    assert any(path.endswith("/report.html") for path in narrowed), narrowed
    assert not any(path.endswith("/missing") for path in narrowed), narrowed
    # Its verdict, as `recheck` says it: that catalog's entry alone.
    said = [line for line in result.stdout.splitlines() if "/r1: " in line]
    assert [line.split(":")[0] for line in said] == ["toolkit/r1"], result.stdout
    assert {line.split(":")[0] for line in bare.stdout.splitlines() if "/r1: " in line} == {
        "toolkit/r1",
        "other/r1",
    }, bare.stdout
    assert bare.exit_code == 0, bare.output
    assert {"/report.html", "/missing"} <= {p.split()[-1] for p in everywhere}, everywhere


@pytest.mark.flow
def test_recheck_key_slash_id_with_changed_also_checks_the_other_catalogs_edited_entry(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """`recheck toolkit/r1 --changed`: the named entry and every entry edited since its
    check. other/r1, edited, was dropped: its id was narrowed to catalog toolkit."""
    with local_site() as site:
        _two_catalogs(isolated_cwd, site)
        first = runner.invoke(app, ["check", "--no-report"])
        assert first.exit_code == 0, first.output
        _two_catalogs(isolated_cwd, site, other_r1="/removed")  # other/r1's URL edited
        site.hits.clear()
        result = runner.invoke(app, ["recheck", "toolkit/r1", "--changed", "--no-report"])
        hits = dict(site.hits)
    assert result.exit_code == 0, result.output
    assert any(path.endswith("/removed") for path in hits), hits
    lines = result.stdout.splitlines()
    assert any(line.startswith("toolkit/r1: OK") for line in lines), lines
    assert any(line.startswith("other/r1: ") for line in lines), lines
    assert not any(line.startswith("other/r5") for line in lines), lines
