"""The pull step of prefect.yaml: a worker's flow run enters the linkhealth checkout first.

Input: the folder `{{ $LINKHEALTH_HOME }}` names (filled in by `prefect deploy`, else from
the worker's environment; "" when neither has it). Output: the flow run's working folder,
the checkout, whose `flows/` Prefect loads the entrypoint from.

Prefect's own `set_working_directory` takes "" for the worker's temporary folder and says
the step completed; the run then crashes loading `flows/check_flow.py` from that folder
(FileNotFoundError on /tmp/tmpXXXXprefect/flows/check_flow.py), Prefect's state says only
"Process exited with status code: 1", and `linkhealth status` could name no cause. This step
refuses there, with what to set, in the flow run's log too (`LOGGED_AS`, which
`flows.nightly_watch` looks for there). `linkhealth serve` runs no pull step: its runs start in
`flows.serve.project_home()`.
"""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

from catalog.errors import ConfigError

#: A file every linkhealth checkout has: the nightly deployment's entrypoint.
ENTRYPOINT_FILE = Path("flows") / "check_flow.py"
#: Where the README says how to start a worker.
README_SECTION = "README's Deployments, 'With a work pool and a worker'"


class NoCheckoutError(ConfigError):
    """A worker's flow run has no linkhealth checkout to run in."""


#: How the refusal starts in the flow run's log, where `flows.nightly_watch` finds it.
LOGGED_AS = NoCheckoutError.__name__


def enter_checkout(directory: str = "") -> dict[str, str]:
    """Make `directory` (LINKHEALTH_HOME) the flow run's working folder; `NoCheckoutError`
    when it is unset or holds no checkout, naming the checkout this Python's linkhealth
    comes from as the likely value. Prefect's step output: {"directory": the folder}."""
    here = Path(__file__).resolve().parent.parent
    start = f"`LINKHEALTH_HOME={here} prefect worker start --pool linkhealth`"
    if not directory.strip():
        raise _refused(
            "LINKHEALTH_HOME is set neither where `prefect deploy` ran nor in the environment "
            "of the worker that started this flow run, so it has no linkhealth checkout to "
            f"run in: start the worker as {start} (the checkout this worker's Python runs "
            f"linkhealth from), then run the deployment again; see {README_SECTION}"
        )
    path = Path(directory).expanduser()
    if not (path / ENTRYPOINT_FILE).is_file():
        raise _refused(
            f"LINKHEALTH_HOME={directory} is no linkhealth checkout (no {ENTRYPOINT_FILE} "
            f"there), so this flow run has no code to run: start the worker as {start}, or "
            f"with the checkout it should use, then run the deployment again; see "
            f"{README_SECTION}"
        )
    os.chdir(path)
    return {"directory": os.getcwd()}


def _refused(message: str) -> NoCheckoutError:
    """The refusal, said in the flow run's log too: Prefect prints a failed pull step's
    traceback on the worker's stderr only, and its state says "Process exited with status
    code: 1", so the UI and `linkhealth status` had no word of why."""
    flow_run_id = os.environ.get("PREFECT__FLOW_RUN_ID")  # set by the worker for the run
    if flow_run_id:
        from prefect.logging.loggers import flow_run_logger

        flow_run_logger(flow_run_id=UUID(flow_run_id)).error("%s: %s", LOGGED_AS, message)
    return NoCheckoutError(message)
