"""Prefect flow `check-catalog`: sync -> plan -> check batches -> store -> report.

Only wiring: each task wraps one `catalog` (or `reports`) call. Batches are
coarse (whole hosts, up to `batch_size` URLs, asyncio inside) because Prefect
costs milliseconds per task run; the flow body is the single writer to the
application database, storing each batch as soon as it finishes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from catalog.check import check_batch
from catalog.model import Batch, Observation
from catalog.runs import BatchStored, RunSummary, finish_run, prepare_run, store_batch
from catalog.settings import CheckSettings, Settings, load_settings
from reports import publish_report

#: Batches checked at once; each runs its own event loop with its share of `concurrency`.
BATCH_WORKERS = 4


@task(name="check-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def check_batch_task(batch: Batch, check: CheckSettings) -> list[Observation]:
    # Prefect retries cover infrastructure (a crashed worker thread), never single links:
    # per-URL retries and back-off live in catalog.check.retry.
    return check_batch(batch, check)


@task(name="render-report", cache_policy=NO_CACHE)
def render_report_task(settings: Settings, run_id: int) -> str:
    return str(publish_report(settings, run_id=run_id))


@flow(name="check-catalog", task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS))
def check_catalog(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    resource_ids: list[str] | None = None,
    trigger: str = "manual",
    render: bool = True,
) -> RunSummary:
    """Check every URL of the configured catalogs and record what was found."""
    log = get_run_logger()
    settings = load_settings(config).with_overrides(**(overrides or {}))
    prepared = prepare_run(
        settings, trigger=trigger, flow_run_id=str(flow_run.id or ""), resource_ids=resource_ids
    )
    log.info(
        "Run %s: %d catalog change(s) synced; %d URLs in %d batches",
        prepared.run_id,
        len(prepared.sync.changes),
        prepared.url_count,
        len(prepared.batches),
    )
    workers = max(1, min(BATCH_WORKERS, len(prepared.batches)))
    per_task = replace(settings.check, concurrency=max(2, settings.check.concurrency // workers))
    futures = [check_batch_task.submit(b, per_task) for b in prepared.batches]
    stored: list[BatchStored] = []
    done_urls = 0
    for future in as_completed(futures):
        result = store_batch(settings, prepared.run_id, future.result())
        stored.append(result)
        done_urls += result.observations
        log.info(
            "Batch %d/%d stored: %d URLs (%d/%d done), %d event(s)%s",
            len(stored),
            len(futures),
            result.observations,
            done_urls,
            prepared.url_count,
            result.events,
            "; NETWORK LOOKS DOWN" if result.network_down else "",
        )
    summary = finish_run(settings, prepared.run_id, stored=stored, sync=prepared.sync)
    if render:
        summary = replace(summary, report_path=render_report_task(settings, prepared.run_id))
    for line in summary.lines():
        log.info(line)
    return summary
