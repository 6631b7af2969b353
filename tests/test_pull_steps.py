"""A worker's flow run enters the checkout through prefect.yaml's pull step, or is refused
saying what to set: without LINKHEALTH_HOME it crashed loading flows/check_flow.py from the
worker's temporary folder, and nothing named the cause (r1's walkthrough, finding 4)."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect.utilities.importtools import import_object
from prefect.utilities.templating import apply_values
from ruamel.yaml import YAML

from flows.pull_steps import NoCheckoutError

ROOT = Path(__file__).resolve().parent.parent


class Recorded(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_pull_step() -> dict[str, Any]:
    """prefect.yaml's pull step as Prefect runs it in a worker's flow run, the environment's
    `{{ $VAR }}` filled in (`prefect.deployments.steps.core.run_step`, without the API it
    asks for block and variable placeholders, which the step has none of)."""
    (step,) = YAML(typ="safe").load((ROOT / "prefect.yaml").read_text())["pull"]
    ((name, inputs),) = step.items()
    function = import_object(name)
    result: dict[str, Any] = function(**apply_values(inputs, dict(os.environ)))
    return result


def test_a_worker_without_linkhealth_home_is_refused_naming_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LINKHEALTH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # the worker's temporary folder
    flow_run_id = uuid.uuid4()
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(flow_run_id))  # as the worker sets it
    handler = Recorded(logging.ERROR)
    logged = handler.records
    flow_runs = logging.getLogger("prefect.flow_runs")
    flow_runs.addHandler(handler)
    try:
        with pytest.raises(NoCheckoutError) as refused:
            run_pull_step()
    finally:
        flow_runs.removeHandler(handler)
    assert f"`LINKHEALTH_HOME={ROOT} prefect worker start --pool linkhealth`" in str(refused.value)
    assert Path.cwd() == tmp_path
    # In the flow run's log (Prefect prints a pull step's traceback on the worker's stderr
    # only), where the UI and `linkhealth status` read it.
    (record,) = logged
    assert getattr(record, "flow_run_id", None) == str(flow_run_id)
    assert record.getMessage() == f"NoCheckoutError: {refused.value}"


def test_a_linkhealth_home_without_a_checkout_is_refused_and_one_with_it_entered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LINKHEALTH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoCheckoutError, match=f"LINKHEALTH_HOME={tmp_path} is no linkhealth"):
        run_pull_step()
    monkeypatch.setenv("LINKHEALTH_HOME", str(ROOT))
    assert run_pull_step() == {"directory": str(ROOT)}
    assert Path.cwd() == ROOT
