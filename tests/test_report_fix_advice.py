"""The fix a queue row offers follows what the checks found: a stored "move" to the site's
home page or search is no address to switch to, and a link refused with a bare 403 is
opened in a browser before it is replaced (a 451 is not)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from catalog.outcomes import Outcome
from catalog.queries import ReportData, report_data
from reports import build_context, render_html, render_markdown
from reports.context import Priority
from tests import report_fixtures as fx

#: Where a site sends a deep link it no longer has, as checks before the soft-404 rule
#: stored it: a permanent redirect to a "new address".
SENT_HOME = {
    "home": "https://old.example.org/",
    "home-tagged": "https://old.example.org/?utm_source=old-site",
    "search": "https://old.example.org/search?q=annual+report",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("advice") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


# --- a stored move to the home page or the site's search -----------------------------------


@pytest.mark.parametrize("target", SENT_HOME.values(), ids=SENT_HOME.keys())
def test_a_stored_move_to_the_home_page_is_no_address_to_switch_to(
    data: ReportData, target: str
) -> None:
    """`accept-redirect` refuses it now (it linked the home page for good); the row still
    said "Switch to the new address https://old.example.org/" with that command."""
    changed = fx.with_resource(data, "a-moved", suggested_url=target, final_url=target)
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, "a-moved")

    assert row.priority is Priority.UPDATE and row.fix and row.command
    assert "accept-redirect" not in row.command and "NEW_URL" in row.command
    assert row.fix.startswith("It has not moved: the link was redirected to the site's")
    assert "Switch to the new address" not in row.fix
    assert row.suggested_url is None and row.final_url == target  # "Ended at", not "New address"
    markdown = render_markdown(ctx)
    line = next(line for line in markdown.splitlines() if "(a-moved," in line)
    assert "New address:" not in line and "accept-redirect" not in line
    assert "accept-redirect a-moved" not in render_html(ctx)


def test_a_stored_move_to_the_home_page_links_an_archived_copy_when_known(
    data: ReportData,
) -> None:
    archived = "https://web.archive.org/web/2020/https://old.example.org/reports/annual"
    home = SENT_HOME["home"]
    changed = fx.with_resource(
        data, "a-moved", suggested_url=home, final_url=home, archive_url=archived
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-moved")
    assert row.command is not None and row.command.endswith(f"replace-url a-moved {archived}")
    assert not row.command_needs_input


@pytest.mark.parametrize(
    ("rid", "url", "target"),
    [
        ("a-broken", None, "https://gone.example.org/?utm_source=old-site"),
        ("a-suspect", "https://slow.example.org/page", "https://slow.example.org/?lang=en"),
    ],
    ids=["broken", "failing"],
)
def test_a_failing_links_last_move_to_the_home_page_is_not_offered(
    data: ReportData, rid: str, url: str | None, target: str
) -> None:
    """A link that fails now, whose last working check was such a "move": "Use the new
    address" (confirmed broken) or "It had moved for good to ..." named the home page."""
    changes = {"suggested_url": target, **({"url": url} if url else {})}
    row = fx.row_of(build_context(fx.with_resource(data, rid, **changes), now=fx.NOW), rid)
    assert row.fix and target not in row.fix
    assert row.suggested_url is None
    assert target not in (row.command or "")


def test_a_real_move_is_still_offered(data: ReportData) -> None:
    row = fx.row_of(build_context(data, now=fx.NOW), "a-moved")
    assert row.suggested_url == fx.MOVED_TO
    assert row.command is not None and "accept-redirect" in row.command


# --- a link refused with a bare 403, or a 451 ------------------------------------------------

ARCHIVED = "https://web.archive.org/web/2024/https://gone.example.org/old"


def _refused(data: ReportData, status: int, **changes: object) -> ReportData:
    """a-broken (confirmed broken after 4 checks) refused with `status` and no challenge."""
    return fx.with_resource(
        data,
        "a-broken",
        outcome=Outcome.HTTP_ERROR,
        outcome_value="http_error",
        http_status=status,
        **changes,
    )


@pytest.mark.parametrize("archive", [None, ARCHIVED], ids=["no-archive", "archived"])
def test_a_link_refused_with_a_bare_403_is_opened_in_a_browser_before_it_is_replaced(
    data: ReportData, archive: str | None
) -> None:
    """Sites refuse automated checkers with a bare 403 while browsers get the page: "report
    it to the site or find another copy" (or "link the archived copy") replaced a link that
    works. If it opens, `linkhealth ignore` keeps it out of the queue, still checked."""
    ctx = build_context(_refused(data, 403, archive_url=archive), now=fx.NOW)
    row = fx.row_of(ctx, "a-broken")

    assert row.priority is Priority.BROKEN and row.fix and row.command
    assert "403 Forbidden" in row.fix and "browser first" in row.fix
    opens, _, otherwise = row.fix.partition("if it does not,")
    assert (
        "linkhealth ignore a-broken --reason 'works in a browser; refuses automated checks (403)'"
        in opens
    )
    assert "nothing to change" not in row.fix  # it stays refused, confirmed broken, for good
    replacement = archive or "NEW_URL"
    assert replacement in otherwise and row.command.endswith(f"replace-url a-broken {replacement}")


def test_an_ignored_link_refused_with_a_403_is_not_told_to_ignore_it(data: ReportData) -> None:
    changed = _refused(data, 403, ignored_reason="works in a browser")
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-broken")
    assert row.fix and "linkhealth unignore a-broken" in row.fix
    assert "linkhealth ignore" not in row.fix


def test_a_link_withheld_for_legal_reasons_is_replaced_with_another_copy(
    data: ReportData,
) -> None:
    """A 451 is the law where the check ran: readers there cannot open it either, so a
    browser there proves nothing and no ignore is offered."""
    row = fx.row_of(build_context(_refused(data, 451), now=fx.NOW), "a-broken")
    assert row.fix and "451" in row.fix and "readers there cannot open it" in row.fix
    assert "Find another copy" in row.fix
    assert "ignore" not in row.fix and "browser first" not in row.fix
    assert row.command is not None and row.command.endswith("replace-url a-broken NEW_URL")


def test_other_http_errors_keep_their_fix(data: ReportData) -> None:
    row = fx.row_of(build_context(_refused(data, 500), now=fx.NOW), "a-broken")
    assert row.fix and "403" not in row.fix and "linkhealth ignore" not in row.fix
