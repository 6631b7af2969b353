"""A report on a fiscal year comes out once that year has ended: its year may be the one
after the fiscal year its title names ("FY 2015 Annual Report", published 2016), as a
span's may be the year after its end. A plain year in a title must still match."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.hygiene import lint
from catalog.model import Catalog, Resource


def _mismatch(title: str, year: int | None) -> list[str]:
    entry = Resource(
        id="a",
        title=title,
        url="https://example.org/a",
        description="What it is.",
        publisher="Someone",
        type="report",
        year=year,
        line=2,
    )
    findings = lint([Catalog(Path("/catalogs/kit.yaml"), {"title": "Kit"}, (entry,))])
    return [f.message for f in findings if f.code in ("year_mismatch", "missing_year")]


@pytest.mark.parametrize(
    "title",
    [
        "Attorney General's Annual Report to Congress, Fiscal Year 2015",
        "FY 2015 Annual Report",
        "FY2015 Annual Report",
        "FY15 Annual Report",
        "FY-15 Grantee Report",
        "Fiscal Year (FY) 2015 Performance Report",
        "fiscal-year 2015 report",
    ],
)
def test_a_fiscal_year_is_published_in_it_or_the_year_after(title: str) -> None:
    assert _mismatch(title, 2015) == []
    assert _mismatch(title, 2016) == []
    assert _mismatch(title, 2014) == ["year 2014 but the title names 2015"]
    assert _mismatch(title, 2017) == ["year 2017 but the title names 2015"]


@pytest.mark.parametrize(
    "title",
    [
        "Report on Fiscal Years 2014-2015",
        "FY 2014-2015 Report",
        "FY2014-15 Report",
        "FY 2014/15 Report",
        "FY 2014 and FY 2015 Report",
        "Fiscal Years 2014 through 2015",
    ],
)
def test_a_span_of_fiscal_years_allows_a_year_after_its_end(title: str) -> None:
    assert [_mismatch(title, year) for year in (2014, 2015, 2016)] == [[], [], []]
    assert _mismatch(title, 2017) == ["year 2017 but the title names 2014 and 2015"]
    assert _mismatch(title, 2013) == ["year 2013 but the title names 2014 and 2015"]


@pytest.mark.parametrize(
    "title",
    [
        "Annual Report 2015",
        "2015 Trafficking in Persons Report",
        "Report of 2015, 15 states",
        "FYI: 2015 report",
        "Report 2015-03",  # a month, not a fiscal span
        "FY150 grants in 2015",
    ],
)
def test_a_year_named_otherwise_must_match(title: str) -> None:
    assert _mismatch(title, 2016) == ["year 2016 but the title names 2015"]


def test_a_two_digit_fiscal_year_is_the_year_a_missing_year_suggests() -> None:
    assert _mismatch("FY15 Annual Report", None) == ["no year, but the title names 2015"]
