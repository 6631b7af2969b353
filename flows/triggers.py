"""What started a run, as its record and its overlap rule need it.

prefect.yaml gives `trigger: schedule` to every run of `nightly` and `nightly-sharded`, so a
Quick run from the Prefect UI or `prefect deployment run` arrived labelled "schedule" too:
its report and run history said "schedule", and when another run held the lease it ended
Skipped (the quiet end meant for an overlapping night) instead of failing for the person
who asked. The scheduler marks the runs it makes (`FlowRun.auto_scheduled`); this module
believes the parameter only for those, and for the catch-up run `linkhealth serve` starts
for a night Prefect lost (tagged `CATCH_UP_TAG`, `flows.nightly_watch`): it stands for that
night, so it too ends Skipped when another full run holds the lease or checked the night.
"""

from __future__ import annotations

from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext

from flows.nightly_watch import CATCH_UP_TAG

__all__ = ["run_trigger", "trigger_of"]

SCHEDULE = "schedule"
MANUAL = "manual"


def trigger_of(declared: str, run: FlowRun | None) -> str:
    """`declared`, except that a deployment run the scheduler did not make is "manual".

    Only a top-level run is judged: a shard run is started by its sharded parent, which
    passes on the trigger it was judged to have. A flow called in-process (the `linkhealth`
    command, tests) has no deployment, and its caller's word stands.
    """
    if declared != SCHEDULE or run is None or run.deployment_id is None:
        return declared
    if run.parent_task_run_id is not None or run.auto_scheduled or CATCH_UP_TAG in run.tags:
        return declared
    return MANUAL


def run_trigger(declared: str) -> str:
    """`trigger_of` for the flow run this is called in."""
    context = FlowRunContext.get()
    return trigger_of(declared, context.flow_run if context is not None else None)
