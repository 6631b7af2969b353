"""A flow run's parameters: recorded as Prefect records them, without importing FastAPI for
the plain JSON that linkhealth's commands pass (`flows.parameters`)."""

from __future__ import annotations

import enum
import subprocess
import sys
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prefect import Flow

from flows.check_flow import check_catalog, check_catalog_sharded, publish_report_flow
from flows.recheck_flow import recheck

ROOT = Path(__file__).resolve().parents[1]

#: What `linkhealth check` and `recheck` pass (flows.cli), and what a deployment's run may.
PLAIN: list[dict[str, Any]] = [
    {"config": None, "overrides": {}, "resource_ids": None, "trigger": "manual", "render": True},
    {
        "config": "/srv/linkhealth/linkhealth.toml",
        "overrides": {
            "database_url": "sqlite:///var/x.db",
            "catalogs": ["a.yaml", "dir/"],
            "concurrency": 8,
            "per_host_rate": 0.5,
            "allow_private": False,
        },
        "resource_ids": ["r1", "toolkit/r2"],
        "trigger": "schedule",
        "render": False,
        "shard": "1/2",
    },
    {"resource_ids": [], "changed_only": True, "failing_only": False, "overrides": None},
    {"overrides": {"nested": {"deep": [1, 2.5, None, "x", {"k": [True]}]}}, "run_id": 7},
]


class Colour(enum.Enum):
    RED = "red"


Pair = namedtuple("Pair", "a b")

#: Not plain JSON: Prefect's own encoder decides (tuples become lists, paths strings, ...).
OTHER: list[dict[str, Any]] = [
    {"config": Path("/srv/linkhealth.toml")},
    {"resource_ids": ("r1", "r2")},
    {"overrides": {"_sa_instance_state": 1, "kept": 2}},  # FastAPI drops "_sa" keys
    {"overrides": {1: "int key"}},
    {"trigger": Colour.RED},
    {"when": datetime(2026, 12, 5, 18, 0)},
    {"pair": Pair(1, 2)},
    {"flag": True, "nested": [{"p": Path("x")}]},
]

FLOWS = [check_catalog, recheck, publish_report_flow, check_catalog_sharded]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
@pytest.mark.parametrize("parameters", PLAIN + OTHER)
def test_parameters_are_recorded_as_prefect_records_them(
    flow: Flow[Any, Any], parameters: dict[str, Any]
) -> None:
    expected = Flow.serialize_parameters(flow, parameters)  # Prefect's own, with FastAPI
    assert flow.serialize_parameters(parameters) == expected
    assert type(flow.serialize_parameters(parameters)) is dict


def test_plain_parameters_are_copied_not_shared() -> None:
    parameters: dict[str, Any] = {"overrides": {"catalogs": ["a.yaml"]}}
    recorded = check_catalog.serialize_parameters(parameters)
    parameters["overrides"]["catalogs"].append("b.yaml")
    assert recorded == {"overrides": {"catalogs": ["a.yaml"]}}


def test_a_check_run_records_its_parameters_without_importing_fastapi(tmp_path: Path) -> None:
    # FastAPI's encoder cost ~0.18 CPU-s of every `linkhealth check`'s main thread.
    code = (
        "import sys\n"
        "from flows.check_flow import check_catalog\n"
        "check_catalog.serialize_parameters({'config': 'x.toml', 'overrides': "
        "{'concurrency': 4, 'catalogs': ['a.yaml']}, 'resource_ids': None, "
        "'trigger': 'manual', 'render': False})\n"
        "print('fastapi' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
