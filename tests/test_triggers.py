"""A run's trigger: the scheduler's runs are "schedule", a Quick run of the same
deployment is "manual" (its record says who asked; an overlap fails instead of ending
Skipped)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun

from flows.triggers import run_trigger, trigger_of


def deployment_run(*, auto_scheduled: bool, child: bool = False) -> FlowRun:
    return FlowRun(
        flow_id=uuid4(),
        deployment_id=uuid4(),
        auto_scheduled=auto_scheduled,
        parent_task_run_id=uuid4() if child else None,
    )


def test_a_run_the_scheduler_made_is_a_scheduled_run() -> None:
    assert trigger_of("schedule", deployment_run(auto_scheduled=True)) == "schedule"


def test_a_quick_run_of_the_nightly_deployment_is_manual() -> None:
    """prefect.yaml declares `trigger: schedule` for every run of `nightly`."""
    assert trigger_of("schedule", deployment_run(auto_scheduled=False)) == "manual"


def test_a_shard_run_keeps_the_trigger_its_parent_passed_on() -> None:
    run = deployment_run(auto_scheduled=False, child=True)
    assert trigger_of("schedule", run) == "schedule"
    assert trigger_of("manual", run) == "manual"


@pytest.mark.parametrize("declared", ["manual", "recheck"])
def test_other_triggers_are_taken_as_declared(declared: str) -> None:
    assert trigger_of(declared, deployment_run(auto_scheduled=True)) == declared
    assert trigger_of(declared, deployment_run(auto_scheduled=False)) == declared


def test_a_flow_called_in_process_keeps_its_callers_word() -> None:
    in_process = FlowRun(flow_id=uuid4())  # the `linkhealth` command: no deployment
    assert trigger_of("schedule", in_process) == "schedule"
    assert trigger_of("schedule", None) == "schedule"
    assert run_trigger("schedule") == "schedule"  # outside any flow run
