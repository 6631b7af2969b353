"""prefect.yaml is accepted by `prefect deploy --all`; `linkhealth serve` reads the same file; the
paths it and the README name are there."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows.serve import DeploymentSpec, read_deployments, runner_deployments, servable

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"


def _by_name() -> dict[str, DeploymentSpec]:
    return {spec.name: spec for spec in read_deployments(PREFECT_YAML)}


#: Flow name of each deployment's entrypoint: Prefect names deployments "<flow>/<name>".
FLOW_OF = {
    "nightly": "check-catalog",
    "recheck": "recheck",
    "report": "publish-report",
    "nightly-sharded": "check-catalog-sharded",
    "shard": "check-catalog",
}


def test_prefect_yaml_declares_nightly_recheck_report_and_the_sharded_pair() -> None:
    specs = _by_name()
    assert set(specs) == set(FLOW_OF)
    nightly = read_deployments(PREFECT_YAML)[0]
    assert nightly.name == "nightly" and nightly.concurrency_limit == 1
    assert [(s.cron, s.active) for s in nightly.schedules] == [("0 2 * * *", True)]


def test_the_sharded_nightly_is_off_and_its_shards_reach_the_shard_deployment() -> None:
    from flows.check_flow import check_catalog_sharded

    specs = _by_name()
    sharded, shard = specs["nightly-sharded"], specs["shard"]
    # Both nightlies on at once would be two full runs of the same hosts.
    assert [(s.cron, s.active) for s in sharded.schedules] == [("0 2 * * *", False)]
    assert sharded.concurrency_limit == 1
    assert sharded.entrypoint == "flows/check_flow.py:check_catalog_sharded"
    target = sharded.parameters["deployment"]
    assert target == f"{FLOW_OF['shard']}/shard"
    assert target == inspect.signature(check_catalog_sharded.fn).parameters["deployment"].default
    assert shard.entrypoint == "flows/check_flow.py:check_catalog"
    assert not shard.schedules and "shard" in shard.parameters


def test_serve_leaves_out_the_deployments_that_need_workers() -> None:
    specs = read_deployments(PREFECT_YAML)
    assert [s.name for s in servable(specs)] == ["nightly", "recheck", "report"]


def test_serve_keeps_a_schedule_that_is_off_off(tmp_path: Path) -> None:
    yaml = tmp_path / "prefect.yaml"
    yaml.write_text(
        "deployments:\n"
        "  - name: paused\n"
        "    entrypoint: flows/check_flow.py:check_catalog\n"
        "    schedules:\n"
        "      - {cron: '0 3 * * *', active: false}\n"
    )
    (deployment,) = runner_deployments(read_deployments(yaml))
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 3 * * *" and schedule.active is False


def test_serve_builds_the_same_schedules_triggers_and_parameters() -> None:
    served = {d.name: d for d in runner_deployments(read_deployments(PREFECT_YAML))}
    nightly = served["nightly"]
    (schedule,) = nightly.schedules
    assert schedule.schedule.cron == "0 2 * * *"
    assert schedule.schedule.timezone == "America/New_York"
    assert nightly.parameters["trigger"] == "schedule"
    recheck = served["recheck"]
    assert not recheck.schedules
    (trigger,) = recheck.triggers
    assert "linkhealth.catalog.edited" in trigger.expect
    assert trigger.parameters == {"changed_only": True}
    assert served["report"].entrypoint == "flows.check_flow.publish_report_flow"
    assert nightly.schedules[0].active is True
    assert served["nightly-sharded"].schedules[0].active is False
    assert served["shard"].tags == ["needs-workers"]


@pytest.mark.flow
def test_prefect_deploy_all_accepts_prefect_yaml(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.objects import DeploymentSchedule
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.events.schemas.automations import Automation, EventTrigger
    from prefect.settings import PREFECT_API_URL
    from prefect.workers.process import ProcessWorker

    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(
                    name="linkhealth",
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                ),
                overwrite=True,
            )

    async def switch_by_hand() -> None:
        """To `nightly-sharded` as prefect.yaml's header once said: `prefect deployment
        schedule pause` on `nightly`'s schedule, `resume` on the sharded one's."""
        async with get_client() as client:
            for name, active in (("nightly", False), ("nightly-sharded", True)):
                found = await client.read_deployment_by_name(f"{FLOW_OF[name]}/{name}")
                (schedule,) = found.schedules
                await client.update_deployment_schedule(found.id, schedule.id, active=active)
                (schedule,) = (await client.read_deployment(found.id)).schedules
                assert schedule.active is active

    asyncio.run(create_pool())
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "LINKHEALTH_HOME": str(ROOT),
    }
    for time in range(2):  # the second time as an operator redeploys after editing the file
        if time:
            asyncio.run(switch_by_hand())
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    # A redeploy of `schedules: []` drew a FutureWarning per such deployment (Prefect:
    # omit the key to keep the schedules an operator added in the UI).
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr

    async def read() -> tuple[dict[str, DeploymentResponse], list[Automation]]:
        async with get_client() as client:
            found: dict[str, DeploymentResponse] = {}
            for name, flow_name in FLOW_OF.items():
                found[name] = await client.read_deployment_by_name(f"{flow_name}/{name}")
            automations = await client.read_resource_related_automations(
                f"prefect.deployment.{found['recheck'].id}"
            )
            return found, automations

    def cron(schedule: DeploymentSchedule) -> CronSchedule:
        assert isinstance(schedule.schedule, CronSchedule), schedule.schedule
        return schedule.schedule

    deployments, automations = asyncio.run(read())
    nightly = deployments["nightly"]
    # A worker's run enters the checkout LINKHEALTH_HOME named at deploy time, or is refused
    # saying what to set (flows.pull_steps); `status` tells a worker's deployment by it.
    assert nightly.pull_steps == [{"flows.pull_steps.enter_checkout": {"directory": str(ROOT)}}], (
        nightly.pull_steps
    )
    assert [cron(s).cron for s in nightly.schedules] == ["0 2 * * *"]
    assert cron(nightly.schedules[0]).timezone == "America/New_York"
    assert nightly.global_concurrency_limit is not None
    assert nightly.global_concurrency_limit.limit == 1
    # The redeploy set both schedules back to prefect.yaml's `active`, undoing the switch
    # made by hand: prefect.yaml's header says to switch there, and warns of this.
    assert nightly.schedules[0].active
    sharded = deployments["nightly-sharded"]
    assert [(cron(s).cron, s.active) for s in sharded.schedules] == [("0 2 * * *", False)]
    assert sharded.parameters["deployment"] == "check-catalog/shard"
    assert not deployments["shard"].schedules
    assert deployments["shard"].work_pool_name == "linkhealth"
    recheck = deployments["recheck"]
    assert recheck.parameters == {
        "resource_ids": [],
        "changed_only": False,
        "failing_only": False,
    }
    assert not deployments["report"].schedules
    (automation,) = automations
    assert isinstance(automation.trigger, EventTrigger)
    assert "linkhealth.catalog.edited" in automation.trigger.expect


@pytest.mark.flow
def test_serve_warns_of_a_pools_workers_that_would_take_its_runs(prefect_api: str) -> None:
    """After `prefect deploy --all`, the served deployments keep their work pool: a worker
    still online there may pick up a served run and run it outside the checkout, with the
    built-in settings (seen: a catalog-edited recheck of the bundled catalog instead)."""
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    from flows.serve import pools_with_workers

    pool = f"lh-serve-{uuid.uuid4().hex[:8]}"
    spec = DeploymentSpec(
        name=f"probe-{uuid.uuid4().hex[:8]}", entrypoint="flows/check_flow.py:publish_report_flow"
    )
    (served,) = runner_deployments([spec])
    assert pools_with_workers([served]) == []  # not deployed yet
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name=pool,
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
        )
        (deployed,) = runner_deployments([spec])
        deployed.work_pool_name = pool  # as `prefect deploy --all` makes it
        deployed.apply()
        assert pools_with_workers([served]) == []  # no worker on the pool
        client.send_worker_heartbeat(pool, "a-worker", heartbeat_interval_seconds=30)
    assert pools_with_workers([served]) == [pool]


def _header() -> str:
    """prefect.yaml's opening comment, its lines joined."""
    lines = PREFECT_YAML.read_text().splitlines()
    comments = [line.lstrip("#").strip() for line in lines[: lines.index("name: linkhealth")]]
    return " ".join(comments)


def test_the_switch_to_the_sharded_night_is_the_one_a_redeploy_keeps() -> None:
    """The header said to switch with `prefect deployment schedule pause` / `resume`; the
    next `prefect --no-prompt deploy --all` (the README's step after a cron edit) sets
    every schedule back to its `active:` in the file (`test_prefect_deploy_all_accepts_
    prefect_yaml`), so the nightly came back on and the sharded night off, unsaid."""
    header = _header()
    commands = [line.strip() for line in PREFECT_YAML.read_text().splitlines()]
    assert not any(c.startswith("#     prefect deployment schedule") for c in commands)
    assert (
        "To switch, swap `active: true` and `active: false` on the schedules of `nightly` and "
        "`nightly-sharded` below, then run `prefect --no-prompt deploy --all` again." in header
    )
    assert "every deploy sets each schedule back to its `active` here" in header
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "sets each schedule back to its `active` in `prefect.yaml`" in readme


#: Top-level folders of the checkout: a path starting with one names a file of it (or, with
#: a `*`, some files).
_CHECKOUT_PATH = re.compile(
    r"(?<![\w./-])((?:deploy|flows|catalog|reports|bench|tests)/[\w./@*-]+)"
)
#: Paths the README gives as placeholders.
_PLACEHOLDERS = {"tests/test_x.py"}


@pytest.mark.parametrize(
    "document",
    [
        "prefect.yaml",
        "README.md",
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "deploy").rglob("*") if p.is_file()),
    ],
)
def test_the_checkout_paths_a_document_names_are_there(document: str) -> None:
    """prefect.yaml's header named deploy/linkhealth-serve.service, which is in
    deploy/systemd/."""
    named = {m.rstrip(".:,") for m in _CHECKOUT_PATH.findall((ROOT / document).read_text())}
    named = {path.split(":")[0] for path in named} - _PLACEHOLDERS
    assert named or document != "prefect.yaml"
    assert sorted(p for p in named if not any(ROOT.glob(p))) == []
