"""A report on a fiscal year comes out once that year has ended: its year may be the one
after the fiscal year its title names ("FY 2015 Annual Report", published 2016), as a
span's may be the year after its end. A budget request, a plan or a solicitation for a
fiscal year comes out the year before it ("FY 2016 Budget Request", published 2015; US
federal FY2016 starts 1 October 2015), so the year before is allowed too. A plain year in
a title must still match."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.hygiene import lint
from catalog.model import Catalog, Resource


def year_messages(title: str, year: int | None) -> list[str]:
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
def test_a_fiscal_year_is_published_from_the_year_before_to_the_year_after(title: str) -> None:
    assert year_messages(title, 2015) == []
    assert year_messages(title, 2016) == []
    assert year_messages(title, 2014) == []
    assert year_messages(title, 2013) == ["year 2013 but the title names 2015"]
    assert year_messages(title, 2017) == ["year 2017 but the title names 2015"]


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
def test_a_span_of_fiscal_years_allows_a_year_before_and_after_it(title: str) -> None:
    assert [year_messages(title, year) for year in (2013, 2014, 2015, 2016)] == [[], [], [], []]
    assert year_messages(title, 2017) == ["year 2017 but the title names 2014 and 2015"]
    assert year_messages(title, 2012) == ["year 2012 but the title names 2014 and 2015"]


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("FY15 Budget Request", 2014),
        ("FY 2016 Budget Request", 2015),
        ("FY 2016 Congressional Budget Justification", 2015),
        ("Solicitation: Services for Victims of Human Trafficking, FY 2016", 2015),
        ("SFY 2017-2019 State Plan", 2016),
    ],
)
def test_what_is_written_before_a_fiscal_year_may_be_dated_the_year_before(
    title: str, year: int
) -> None:
    assert year_messages(title, year) == []
    assert year_messages(title, year - 1) != []


def test_a_plain_year_does_not_allow_the_year_before() -> None:
    assert year_messages("2016 Budget Request", 2015) == ["year 2015 but the title names 2016"]
    assert year_messages("Plan for 2014-2015", 2013) == [
        "year 2013 but the title names 2014 and 2015"
    ]


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
    assert year_messages(title, 2016) == ["year 2016 but the title names 2015"]


def test_a_two_digit_fiscal_year_is_the_year_a_missing_year_suggests() -> None:
    assert year_messages("FY15 Annual Report", None) == ["no year, but the title names 2015"]


@pytest.mark.parametrize(
    "title",
    ["FY 2016 to 25 States", "FY 2016 through 30 Sites", "Grants FY 2016 and 24 Partners"],
)
def test_two_digits_after_to_through_or_and_are_no_fiscal_span_end(title: str) -> None:
    """ "FY 2016 to 25 States" is FY 2016 and a count: a span's two-digit end only follows
    '-', '–' or '/' ("FY2014-15"); after 'to', 'through' or 'and' it is a four-digit year
    or has its own FY ("FY 2014 and FY 15")."""
    assert year_messages(title, 2016) == []
    assert year_messages(title, 2024) == ["year 2024 but the title names 2016"]
    assert year_messages(title, None) == ["no year, but the title names 2016"]


def test_an_fy_after_and_keeps_its_two_digits() -> None:
    assert year_messages("FY 2014 and FY 15 Report", 2017) == [
        "year 2017 but the title names 2014 and 2015"
    ]
