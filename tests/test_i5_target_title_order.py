"""Entries of the same id in two catalogs on one link come to `targets_for_check` in a
defined order, their collection keys' (code point order, `byte_order`), filtered or not:
before, only the link's URL and the id ordered the rows, and a link's titles came in
whatever order the database's plan gave (PostgreSQL's plan with a filter and without one
differed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.sync import sync_catalogs
from tests.factories import T0, days, make_catalog, make_resource, temporary_database

URL = "https://example.org/guide"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Catalog "zeta" stored first (its rows the older), then "Zulu" and "alpha": each has
    entry r1 on `URL`, titled after it (titles a target carries: they hold a message,
    `may_name_a_message`); "alpha" has another entry on another link."""
    with temporary_database(tmp_path) as engine:
        for key, title in (
            ("zeta", "Nothing Here | Zeta Stories"),
            ("Zulu", "Nothing Here | Zulu Stories"),
        ):
            entry = make_resource("r1", url=URL, title=title)
            sync_catalogs(engine, [make_catalog(key, [entry])], now=T0)
        alpha = [
            make_resource("r1", url=URL, title="Nothing Here | Alpha Stories"),
            make_resource("r2", url="https://example.org/other", title="Other page"),
        ]
        sync_catalogs(engine, [make_catalog("alpha", alpha)], now=T0)
        yield engine


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"resource_ids": ["r1"]},
        {"collection_keys": ["zeta", "alpha", "Zulu"]},
        {"entries": [("zeta", "r1"), ("alpha", "r1"), ("Zulu", "r1")]},
    ],
    ids=["unfiltered", "ids", "collections", "entries"],
)
def test_titles_of_one_id_in_several_catalogs_come_in_collection_key_order(
    engine: Engine, filters: dict[str, Any]
) -> None:
    targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7, **filters)

    (guide,) = [tg for tg in targets if tg.url == URL]
    assert guide.resource_ids == ("r1",)
    # Code points: upper case before lower case, whatever the database's collation.
    assert guide.titles == (
        "Nothing Here | Zulu Stories",
        "Nothing Here | Alpha Stories",
        "Nothing Here | Zeta Stories",
    )
