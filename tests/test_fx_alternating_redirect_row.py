"""The queue's row of a permanent redirect that leads to two addresses by turns.

Two servers behind a balancer send the old address to /new-a and /new-b on alternate nights
(`catalog.unsteady`, told once in the news). Its row said "Redirects permanently on some
nights and not others" (it redirects every night), its fix "The site redirects it to
/new-b on some nights ..." and "New address: /new-b", the next night /new-a: the suggested
fix flipped each night, and a curator who followed it moved the entry to an address that
redirected elsewhere the night after.

What a curator relies on: the row says the redirect leads to several addresses by turns
and names them all, the same words every night (sorted, not tonight's first); it offers
no new address (`suggested_url` None in every format, no "New address:" line, no
`accept-redirect`) until the redirect stays on one; once it has stayed on one at three
checks, that one is offered as ever. A redirect that comes and goes to one address keeps
its wording and its one address.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from catalog.queries import report_data
from reports.build import build_context
from reports.context import Priority, Row
from reports.render import render_csv, render_markdown
from tests.factories import days
from tests.test_x2_unsteady_news import FLAP, NEW, engine, moved_to, night, page, row

__all__ = ["engine"]

TARGETS = (f"{NEW}-a", f"{NEW}-b")


def alternate(engine: Engine, nights: range) -> None:
    """The guide read fine on night 1, then redirected to /new-a and /new-b by turns."""
    night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    for n in nights:
        night(engine, n, [moved_to(days(n), TARGETS[n % 2])], report=False)


def queue_line(engine: Engine, n: int) -> str:
    ctx = build_context(report_data(engine), now=days(n) + timedelta(minutes=10))
    (line,) = [x for x in render_markdown(ctx, limit=None).splitlines() if "(guide, " in x]
    return line


def test_the_row_names_both_targets_and_offers_neither(engine: Engine) -> None:
    alternate(engine, range(2, 8))
    rows: list[Row] = [row(engine, "guide", n) for n in (6, 7)]
    for shown in rows:
        assert shown.priority is Priority.UPDATE
        assert shown.suggested_url is None, shown.suggested_url
        assert shown.command is None
        assert shown.fix is not None
        assert all(target in shown.fix for target in TARGETS), shown.fix
        assert "until the redirect stays" in shown.fix, shown.fix
        # It redirects every night: only where to changes.
        assert "not others" not in (shown.state_note or ""), shown.state_note
        assert "by turns" in (shown.state_note or ""), shown.state_note
    # The same words on either night: no fix that flips with tonight's server.
    assert rows[0].fix == rows[1].fix and rows[0].state_note == rows[1].state_note
    line = queue_line(engine, 7)
    assert "New address:" not in line and "accept-redirect" not in line, line
    ctx = build_context(report_data(engine), now=days(7) + timedelta(minutes=10))
    csv = render_csv(ctx)
    assert all(f",{target}," not in csv for target in TARGETS), csv


def test_once_it_stays_on_one_target_that_one_is_offered(engine: Engine) -> None:
    alternate(engine, range(2, 8))
    for n in (8, 9, 10):
        night(engine, n, [moved_to(days(n), TARGETS[0])], report=False)
    settled = row(engine, "guide", 10)
    assert settled.suggested_url == TARGETS[0]
    assert settled.command is not None and "accept-redirect" in settled.command


def test_a_redirect_that_comes_and_goes_to_one_address_keeps_it(engine: Engine) -> None:
    night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    for n in range(2, 6):  # redirected on nights 3 and 5, not on 2 and 4
        observed = moved_to(days(n), NEW) if n % 2 else page(FLAP, days(n), 1)
        night(engine, n, [observed], report=False)
    shown = row(engine, "guide", 5)
    assert shown.suggested_url == NEW
    assert shown.command is None
    assert shown.fix is not None and f"redirects it to {NEW} on some nights" in shown.fix
    assert "on some nights and not others" in (shown.state_note or "")
