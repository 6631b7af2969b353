"""`linkhealth resource KEY/ID --catalog FILE`: the entry named as verdicts name it, among
the collections of the catalog files named, as `resource KEY/ID` finds it without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.db import open_engine
from catalog.errors import NotFoundError
from catalog.ops import plan_recheck
from catalog.settings import Settings
from tests.factories import days


def _two_catalogs(folder: Path) -> tuple[Path, Path]:
    """Catalogs `a` and `b`, both with an entry `x`; `b` also has `y`."""
    a, b = folder / "a.yaml", folder / "b.yaml"
    x = {"id": "x", "title": "X", "url": "https://a.org/x"}
    y = {"id": "y", "title": "Y", "url": "https://b.org/y"}
    a.write_text(json.dumps({"collection": {"title": "A"}, "resources": [x]}))
    b.write_text(json.dumps({"collection": {"title": "B"}, "resources": [x, y]}))
    return a, b


def test_resource_key_slash_id_is_found_among_the_catalog_files_named(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """`resource a/x --catalog a.yaml`: "no resource with id 'a/x' in collection 'a'",
    though `resource a/x` finds it."""
    from catalog.errors import ConfigError
    from flows.cli_curate import _collection_among

    a, b = _two_catalogs(tmp_path)
    plan_recheck(Settings(database_url=migrated_db_url, catalogs=(a, b)), clock=lambda: days(0))
    engine = open_engine(migrated_db_url)
    assert _collection_among(engine, "a/x", None, ["a"]) == ("a", "x")
    assert _collection_among(engine, "b/x", None, ["a", "b"]) == ("b", "x")
    assert _collection_among(engine, "y", None, ["a", "b"]) == ("b", "y")
    with pytest.raises(NotFoundError, match="'a/x'"):
        _collection_among(engine, "a/x", None, ["b"])
    with pytest.raises(NotFoundError, match="'a/y'"):
        _collection_among(engine, "a/y", None, ["a", "b"])
    with pytest.raises(ConfigError, match="several collections"):
        _collection_among(engine, "x", None, ["a", "b"])
    engine.dispose()
