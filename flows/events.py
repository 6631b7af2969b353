"""Prefect events linkhealth sends: notifications after a run, and "the catalog was edited".

Inputs: `catalog.ops.Notice`s decided without Prefect, or the files a commit touched.
Output: events on the Prefect API (`prefect.events.emit_event`), which automations
turn into webhooks (deploy/automation-webhook.yaml) and deployment triggers into
rechecks (the `recheck` deployment in prefect.yaml). Emitting never fails a run:
Prefect logs and drops an event it cannot send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prefect.events import emit_event
from prefect.events.worker import EventsWorker

from catalog.ops import EVENT_CATALOG_EDITED, EVENT_RUN_REFUSED, Notice
from catalog.text import quotations_isolated

#: Resource ids name what the event is about; automations may match on them.
RUN_RESOURCE = "linkhealth.run.{run_id}"
CATALOG_RESOURCE = "linkhealth.catalog"
#: Not one run's: a refused run may have been recorded nowhere (no database yet).
REFUSED_RESOURCE = "linkhealth.run.refused"


def emit_notices(notices: Sequence[Notice], *, run_id: int, trigger: str) -> int:
    """Send each notice about run `run_id`; returns how many were handed to Prefect."""
    sent = 0
    for notice in notices:
        event = emit_event(
            notice.event,
            resource={
                "prefect.resource.id": RUN_RESOURCE.format(run_id=run_id),
                "prefect.resource.name": f"linkhealth run {run_id}",
                "linkhealth.trigger": trigger,
            },
            payload={"run_id": run_id, **notice.payload},
        )
        sent += event is not None
    return sent


def emit_refusal(reason: str, *, trigger: str) -> bool:
    """Say a run was refused before it checked anything: its catalog or settings file is
    broken (an edit the `recheck` deployment reacted to, say), or it named ids no catalog
    holds. A broken file refuses every night after it until someone fixes it; this event
    reaches the people who can (the webhook automation) without their opening a report.

    The reason quotes the file ("the id 'x' is used twice"), whose text is anyone's: the
    payload's has no explicit bidirectional control, which turned the chat line after it
    around, and each quotation is isolated (`catalog.text.quotations_isolated`), so that a
    right-to-left title moves none of our words."""
    event = emit_event(
        EVENT_RUN_REFUSED,
        resource={
            "prefect.resource.id": REFUSED_RESOURCE,
            "prefect.resource.name": "linkhealth refused run",
            "linkhealth.trigger": trigger,
        },
        payload={"reason": quotations_isolated(reason), "trigger": trigger},
    )
    return event is not None


def emit_catalog_edited(files: Sequence[str] = (), *, rechecked: bool = False) -> bool:
    """Say the catalog changed. `rechecked` marks edits already rechecked by the sender,
    so the `recheck` deployment's trigger (which matches only "false") leaves them alone."""
    event = emit_event(
        EVENT_CATALOG_EDITED,
        resource={
            "prefect.resource.id": CATALOG_RESOURCE,
            "prefect.resource.name": "linkhealth catalog",
            "linkhealth.rechecked": "true" if rechecked else "false",
        },
        payload={"files": list(files)},
    )
    return event is not None


def flush(timeout: float = 10.0) -> None:
    """Wait until queued events are sent; for short-lived commands that emit outside a flow.

    Draining a queue that still holds the event just emitted makes Prefect warn "Still
    processing items: 1 items remaining..." on stderr: waiting for that item is the point
    here, so a curator's `linkhealth catalog edited` would only see a false alarm. That one
    line is dropped while draining; failures to send are logged as before.
    """
    worker_log = logging.getLogger(EventsWorker.__name__)  # Prefect names it by class
    worker_log.addFilter(_not_draining_progress)
    try:
        EventsWorker.drain_all(timeout=timeout)
    finally:
        worker_log.removeFilter(_not_draining_progress)


def _not_draining_progress(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Still processing items")
