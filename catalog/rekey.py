"""Re-keying links after the canonical URL form changes.

`links.url` is the canonical form of a URL (`catalog.urls.canonical_url`): the key that
makes a URL shared by several entries one link, checked once per run. When the form
changes (it gained sorted query parameters, IDNA hosts and dropped default ports), an
existing database still holds keys in the old form, and the next sync would open a new
link beside each old one: its history, confirmation counters and "since when" would start
again from nothing, and two old keys that now mean the same URL would stay two links.

`rekey_links` brings every key to the current form. Links whose keys collapse into one
are merged into the one checked most recently (its state is the newest), and the others'
observations, events and resources move to it, so no history is lost. It is idempotent,
and cheap when nothing changed. Migrations call it (0004; 0011, for emoji domains; 0012,
for spaces in URLs; 0013, for backslashes ending the host and user names); a future change
of the form needs only a new migration that calls it again.

It works on a Connection with lightweight table definitions (only the columns it
touches), so it keeps working inside migrations whatever later revisions add.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from catalog.urls import canonical_url, host_of

_links = sa.table(
    "links",
    sa.column("id", sa.Integer),
    sa.column("url", sa.Text),
    sa.column("host", sa.String),
    # Untyped: compared only with each other (a datetime on PostgreSQL, ISO text on SQLite).
    sa.column("last_checked_at"),
)
#: Tables whose rows point at a link.
_CHILDREN = tuple(
    sa.table(name, sa.column("link_id", sa.Integer))
    for name in ("observations", "events", "resources")
)


@dataclass(frozen=True)
class RekeyResult:
    #: Links whose key was rewritten in place.
    renamed: int = 0
    #: Links folded into another with the same new key (and deleted).
    merged: int = 0


def rekey_links(
    conn: Connection,
    canonical: Callable[[str], str] = canonical_url,
    host: Callable[[str], str] = host_of,
) -> RekeyResult:
    """Rewrite every `links.url` to `canonical(url)`, merging links that collapse."""
    groups: dict[str, list[sa.Row[int, str, datetime | None]]] = defaultdict(list)
    rows = conn.execute(sa.select(_links.c.id, _links.c.url, _links.c.last_checked_at))
    for row in rows:
        groups[canonical(row.url)].append(row)
    renamed = merged = 0
    survivors: list[int] = []
    for key, members in groups.items():
        if len(members) == 1 and members[0].url == key:
            continue
        survivor = max(members, key=lambda r: _newest_first(r, key))
        losers = [r.id for r in members if r.id != survivor.id]
        if losers:
            for child in _CHILDREN:
                conn.execute(
                    sa.update(child).where(child.c.link_id.in_(losers)).values(link_id=survivor.id)
                )
            conn.execute(sa.delete(_links).where(_links.c.id.in_(losers)))
            merged += len(losers)
            survivors.append(survivor.id)
        if survivor.url != key:
            conn.execute(
                sa.update(_links).where(_links.c.id == survivor.id).values(url=key, host=host(key))
            )
            renamed += 1
    _forget_counts(conn, survivors)
    return RekeyResult(renamed=renamed, merged=merged)


def _forget_counts(conn: Connection, link_ids: list[int]) -> None:
    """A merged link's kept count of its problem's checks (catalog.problem_checks) left
    out the checks it took over: it is counted again at its next check. The column is
    newer than the migration (0004) that first calls this."""
    if not link_ids:
        return
    if "problem_checks" not in {c["name"] for c in sa.inspect(conn).get_columns("links")}:
        return
    kept = sa.table("links", sa.column("id", sa.Integer), sa.column("problem_checks", sa.Integer))
    for start in range(0, len(link_ids), 500):
        ids = link_ids[start : start + 500]
        conn.execute(sa.update(kept).where(kept.c.id.in_(ids)).values(problem_checks=None))


def _newest_first(
    row: sa.Row[int, str, datetime | None], key: str
) -> tuple[bool, datetime | str, bool, int]:
    """Most recently checked first; then the one already in the new form; then the oldest."""
    checked = row.last_checked_at
    return (checked is not None, checked or "", row.url == key, -row.id)
