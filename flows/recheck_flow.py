"""Prefect flow `recheck`: check a few resources now, after a curator edited the catalog.

Inputs: resource ids and/or `changed_only` (entries edited since their link was last
checked) and `failing_only`; `entries` (`KEY/ID`) narrows a named id to one catalog's
entry, not what `changed_only` or `failing_only` picks of that id. The selection is
`catalog.ops.plan_recheck`; the check itself is the same `run_check` the nightly flow
runs, limited to the chosen ids.
Output: a `RecheckResult` with the run summary and one verdict line per resource (and per
named id whose entry was removed from its catalog: `RecheckPlan.removed_said`); when
nothing is to check but the sync changed the catalogs (an entry removed), or an earlier one
did since the latest report was written (`linkhealth sync` first), no run, and the report
written again (`RecheckPlan.report_only`).
The `recheck` deployment in prefect.yaml runs this flow when the event
`linkhealth.catalog.edited` arrives (the git hook in deploy/ sends it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from catalog import store
from catalog.db import engine_for
from catalog.errors import CatalogError, LinkhealthError, NotFoundError
from catalog.ops import (
    RecheckPlan,
    narrowed,
    only_in,
    plan_recheck,
    shared_url_lines,
    unheld_entries,
    verdict_lines,
)
from catalog.queries import flapping_unavailable_nights
from catalog.runs import RunSummary
from catalog.text import counted
from flows.check_flow import (
    BATCH_WORKERS,
    failed_with,
    flow_settings,
    publish_after_sync,
    refuse,
    run_check,
)
from flows.parameters import plain_json_parameters
from reports.publish import latest_report_written

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from catalog.settings import Settings


#: How many of the ids it rechecks a recheck's log names as it starts; its verdicts name all.
NAMED_IN_LOG = 10


@dataclass(frozen=True)
class RecheckResult:
    ids: tuple[str, ...]
    summary: RunSummary | None
    verdicts: tuple[str, ...]
    sync_changes: int = 0
    #: What the sync changed, in words (`RecheckPlan.synced`).
    synced: str = ""
    #: The report written again when nothing was checked (`RecheckPlan.report_only`); a
    #: run's report is its summary's.
    report_path: str | None = None
    #: What earlier syncs changed since the last report, written again for them
    #: (`RecheckPlan.unshown_words`); "" for nothing.
    unshown: str = ""

    def nothing_said(self) -> str:
        """What a recheck that checked nothing says: "Nothing to recheck.", or what its sync
        changed and where the report written again for it is."""
        parts = ["Nothing to recheck"]
        if self.sync_changes:
            parts.append(f"{counted(self.sync_changes, 'catalog change')} synced ({self.synced})")
        if self.unshown and self.report_path:
            parts.append(self.unshown)
        if self.report_path:
            parts.append(f"report written to {self.report_path}")
        return "; ".join(parts) + "."


@plain_json_parameters
@flow(name="recheck", task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS))  # type: ignore[arg-type]
def recheck(
    resource_ids: list[str] | None = None,
    changed_only: bool = False,
    failing_only: bool = False,
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    render: bool = True,
    entries: list[str] | None = None,
) -> RecheckResult:
    """Check the named, edited (`changed_only`) or failing (`failing_only`) resources.
    `entries`: ids named `KEY/ID`, checked in catalog KEY only (not in every catalog
    using that id), and in another catalog only when `changed_only` or `failing_only`
    picks its entry (the selection is their union); an entry whose URL others link too
    is said to share its check."""
    try:
        return _recheck(
            resource_ids, changed_only, failing_only, config, overrides, render, entries or []
        )
    except LinkhealthError as exc:
        return failed_with(exc)


def _recheck(
    resource_ids: list[str] | None,
    changed_only: bool,
    failing_only: bool,
    config: str | None,
    overrides: dict[str, Any] | None,
    render: bool,
    entries: list[str],
) -> RecheckResult:
    log = get_run_logger()
    settings = flow_settings(config, overrides, trigger="recheck")
    only = only_in(entries)

    def report_written() -> datetime | int | None:
        return latest_report_written(settings, engine_for(settings.database_url))

    try:
        plan = plan_recheck(
            settings,
            ids=resource_ids or (),
            only=only,
            changed_only=changed_only,
            failing_only=failing_only,
            report_written=report_written if render else None,
        )
        engine = engine_for(settings.database_url)
        _refuse_unheld(engine, plan.collections, only)
    except (CatalogError, NotFoundError) as exc:  # a broken catalog, ids no catalog holds
        refuse(settings, exc, trigger="recheck", render=render and isinstance(exc, CatalogError))
        raise
    if not plan.ids:
        return _nothing_to_recheck(settings, plan, render)
    # The plan synced the catalogs (to know what changed): the run's own sync then finds
    # nothing new, so the changes are said here.
    listed = ", ".join(plan.ids[:NAMED_IN_LOG])
    if len(plan.ids) > NAMED_IN_LOG:  # a new database's all: one line of 300 ids said nothing
        listed += f" and {len(plan.ids) - NAMED_IN_LOG} more"
    log.info(
        "Rechecking %s after syncing %s: %s",
        counted(len(plan.ids), "resource"),
        counted(plan.sync_changes, "catalog change"),
        listed,
    )
    pairs = None if plan.pairs is None else list(plan.pairs)
    summary = run_check(
        settings, trigger="recheck", resource_ids=list(plan.ids), render=render, entries=pairs
    )
    verdicts = (
        entry_verdicts(
            engine, summary.run_id, plan.ids, plan.collections, pairs, resource_ids or (), only
        )
        + plan.removed_said()
    )
    for line in verdicts:
        log.info(line)
    return RecheckResult(
        ids=plan.ids, summary=summary, verdicts=verdicts, sync_changes=plan.sync_changes
    )


def _nothing_to_recheck(settings: Settings, plan: RecheckPlan, render: bool) -> RecheckResult:
    """A recheck that picked nothing: no run, but the report written again when the plan's
    sync changed the catalogs, or an earlier one did since the report was written, or a
    named id's entry was removed (`RecheckPlan.report_only`): it still listed a removed
    entry to fix, until the night."""
    log = get_run_logger()
    removed = plan.removed_said()
    for line in removed:
        log.info(line)
    path = None
    if render and plan.report_only:
        path = publish_after_sync(settings, plan.after_words)
    result = RecheckResult(
        ids=(),
        summary=None,
        verdicts=removed,
        sync_changes=plan.sync_changes,
        synced=plan.synced,
        report_path=path,
        unshown=plan.unshown_words,
    )
    if plan.sync_changes or path:
        log.info(result.nothing_said())
    else:
        log.info("Nothing to recheck: no resource matches the selection.")
    return result


def entry_verdicts(
    engine: Engine,
    run_id: int,
    ids: Sequence[str],
    collections: Sequence[str] | None,
    pairs: Sequence[tuple[str, str]] | None,
    named: Sequence[str],
    only: Mapping[str, set[str]],
    command: str = "recheck",
) -> tuple[str, ...]:
    """One verdict line per entry of `ids` run `run_id` checked, of `collections` (narrowed
    to `pairs` when given), then a line for each named one whose URL others share
    (`shared_url_lines`; `named`: the ids named bare, `only`: the `KEY/ID` names).
    `command`: what the curator ran, as a line about an entry it did not check names it."""
    statuses = store.recheck_statuses(engine, collections, rids=ids)
    if pairs is not None:
        checked = set(pairs)
        statuses = [s for s in statuses if (s.collection, s.rid) in checked]
    run = store.run_verdicts(engine, run_id)
    this_run = {(v.collection, v.rid): v.outcome for v in run}
    # A try not sent (its host held) is no check: "OK - HEAD not sent" read as this one's.
    held = {(v.collection, v.rid): v.held_reason for v in run if v.held_reason is not None}
    # A flapping link's nights of 503, which its words tell as the report's row does.
    flapping = [s.rid for s in statuses if s.link is not None and s.link.flapping]
    verdicts = tuple(
        verdict_lines(
            statuses,
            ids,
            collections,
            this_run=this_run,
            held=held,
            command=command,
            unavailable_nights=flapping_unavailable_nights(engine, flapping) if flapping else {},
        )
    )
    shared = shared_url_lines(engine, statuses, named, only, this_run=this_run, held=held)
    return verdicts + tuple(shared)


def named_verdicts(
    settings: Settings, run_id: int, ids: Sequence[str], entries: Sequence[str]
) -> tuple[str, ...]:
    """The verdicts of the entries a `check --id` run checked, as `recheck` prints them:
    its summary alone ("Outcomes: 1 ok") said nothing of which entry was what. `ids` and
    `entries` (`KEY/ID`) as the run took them (`check_catalog`); the catalogs are those of
    `settings` (a collection's key is its file's name)."""
    from catalog.source import catalog_files

    only = only_in(entries)
    keys = [file.stem for file in catalog_files(settings.catalogs)]
    wanted = list(dict.fromkeys([*ids, *only]))
    pairs = narrowed(wanted, keys, only)
    engine = engine_for(settings.database_url)
    # "not checked by this recheck" read as if the curator had run another command.
    return entry_verdicts(engine, run_id, wanted, keys, pairs, ids, only, command="check --id")


def _refuse_unheld(
    engine: Engine, collections: Sequence[str] | None, only: Mapping[str, set[str]]
) -> None:
    """NotFoundError for a `KEY/ID` whose catalog KEY (one of `collections`) holds no ID,
    though another does, and had none removed (`unheld_entries`)."""
    if missing := unheld_entries(engine, collections, only):
        raise NotFoundError.unknown_ids(missing)
