"""Prefect flow `recheck`: check a few resources now, after a curator edited the catalog.

Inputs: resource ids and/or `changed_only` (entries edited since their link was last
checked) and `failing_only`. The selection is `catalog.ops.plan_recheck`; the check
itself is the same `run_check` the nightly flow runs, limited to the chosen ids.
Output: a `RecheckResult` with the run summary and one verdict line per resource.
The `recheck` deployment in prefect.yaml runs this flow when the event
`linkhealth.catalog.edited` arrives (the git hook in deploy/ sends it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from catalog import store
from catalog.db import engine_for
from catalog.errors import CatalogError, LinkhealthError, NotFoundError
from catalog.ops import plan_recheck, verdict_lines
from catalog.runs import RunSummary
from catalog.text import counted
from flows.check_flow import BATCH_WORKERS, failed_with, flow_settings, refuse, run_check
from flows.parameters import plain_json_parameters


@dataclass(frozen=True)
class RecheckResult:
    ids: tuple[str, ...]
    summary: RunSummary | None
    verdicts: tuple[str, ...]
    sync_changes: int = 0


@plain_json_parameters
@flow(name="recheck", task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS))  # type: ignore[arg-type]
def recheck(
    resource_ids: list[str] | None = None,
    changed_only: bool = False,
    failing_only: bool = False,
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    render: bool = True,
) -> RecheckResult:
    """Check the named, edited (`changed_only`) or failing (`failing_only`) resources."""
    try:
        return _recheck(resource_ids, changed_only, failing_only, config, overrides, render)
    except LinkhealthError as exc:
        return failed_with(exc)


def _recheck(
    resource_ids: list[str] | None,
    changed_only: bool,
    failing_only: bool,
    config: str | None,
    overrides: dict[str, Any] | None,
    render: bool,
) -> RecheckResult:
    log = get_run_logger()
    settings = flow_settings(config, overrides, trigger="recheck")
    try:
        plan = plan_recheck(
            settings, ids=resource_ids or (), changed_only=changed_only, failing_only=failing_only
        )
    except (CatalogError, NotFoundError) as exc:  # a broken catalog, ids no catalog holds
        refuse(settings, exc, trigger="recheck", render=render and isinstance(exc, CatalogError))
        raise
    if not plan.ids:
        log.info("Nothing to recheck: no resource matches the selection.")
        return RecheckResult(ids=(), summary=None, verdicts=(), sync_changes=plan.sync_changes)
    # The plan synced the catalogs (to know what changed): the run's own sync then finds
    # nothing new, so the changes are said here.
    log.info(
        "Rechecking %s after syncing %s: %s",
        counted(len(plan.ids), "resource"),
        counted(plan.sync_changes, "catalog change"),
        ", ".join(plan.ids),
    )
    summary = run_check(settings, trigger="recheck", resource_ids=list(plan.ids), render=render)
    engine = engine_for(settings.database_url)
    statuses = store.recheck_statuses(engine, plan.collections, rids=plan.ids)
    this_run = {
        (v.collection, v.rid): v.outcome for v in store.run_verdicts(engine, summary.run_id)
    }
    verdicts = tuple(verdict_lines(statuses, plan.ids, plan.collections, this_run=this_run))
    for line in verdicts:
        log.info(line)
    return RecheckResult(
        ids=plan.ids, summary=summary, verdicts=verdicts, sync_changes=plan.sync_changes
    )
