"""The bundled demo catalog is refused into a database of other collections by the
library (`catalog.sync.refuse_demo_catalog`), so flow runs of `serve` or a worker started
where no settings file names catalogs are refused as the CLI's commands are."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import store
from catalog.db import engine_for
from catalog.errors import ConfigError
from catalog.ops import plan_recheck
from catalog.runs import prepare_run
from catalog.settings import Settings, load_settings
from catalog.store import stored_collections


def test_a_recheck_plan_refuses_the_demo_catalog_and_writes_nothing(
    toolkit_synced: Path,
) -> None:
    """The `recheck` deployment's flow reaches the sync through `plan_recheck`."""
    settings = load_settings()  # LINKHEALTH_DATABASE_URL=sqlite:///var/lh.db, no toml
    with pytest.raises(ConfigError, match="bundled demo catalog"):
        plan_recheck(settings, changed_only=True)
    engine = engine_for(settings.database_url)
    assert stored_collections(engine) == {"toolkit"}


def test_a_refused_library_run_records_no_run(toolkit_synced: Path) -> None:
    settings = load_settings()
    with pytest.raises(ConfigError):
        prepare_run(settings, trigger="script")
    assert store.latest_runs(engine_for(settings.database_url)) == []


def test_catalogs_a_script_names_itself_are_not_the_demo(toolkit_synced: Path) -> None:
    """`Settings(catalogs=...)` made in a script (no `with_overrides`) names its catalogs."""
    url = load_settings().database_url
    other = toolkit_synced / "other.yaml"
    other.write_text(
        "collection:\n  title: Other\nresources:\n"
        "  - id: b\n    title: Second\n    url: https://example.org/b\n"
    )
    prepared = prepare_run(Settings(database_url=url, catalogs=(other,)), trigger="script")
    assert prepared.sync.change_count == 1
    assert stored_collections(engine_for(url)) == {"toolkit", "other"}
