"""A mistake in prefect.yaml stops `linkhealth serve` with the file, line and deployment
named (exit 2), never a traceback, and never a served nightly run that fails at 2 a.m."""

from __future__ import annotations

import contextvars
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import ConfigError
from flows.serve import read_deployments, runner_deployments

ROOT = Path(__file__).resolve().parent.parent

_NIGHTLY = "deployments:\n  - name: nightly\n    entrypoint: flows/check_flow.py:check_catalog\n"

#: prefect.yaml text -> what the error says after "prefect.yaml".
BROKEN = {
    "unclosed-quote": (
        _NIGHTLY + "    schedules:\n      - cron: '0 2 * * *\n",
        ":6: not valid YAML",
    ),
    "empty": ("", ": no `deployments` list"),
    "top-level-list": ("- name: nightly\n", ": no `deployments` list"),
    "deployments-a-mapping": (
        "x: 1\ndeployments:\n  nightly: {}\n",
        ":2: `deployments` must be a list",
    ),
    "entry-not-a-mapping": ("deployments:\n  - nightly\n", ":2: deployment 1 must be a mapping"),
    "no-name": (
        "deployments:\n  - entrypoint: flows/check_flow.py:check_catalog\n",
        ":2: deployment 1 has no `name`",
    ),
    "no-entrypoint": (
        "deployments:\n  - name: nightly\n",
        ":2: deployment 'nightly': `entrypoint`",
    ),
    "bad-cron": (
        _NIGHTLY + "    schedules:\n      - cron: '0 25 * * *'\n",
        ":5: deployment 'nightly': '0 25 * * *' is not a cron schedule",
    ),
    "hashed-cron": (
        _NIGHTLY + "    schedules:\n      - cron: 'H 2 * * *'\n",
        ":5: deployment 'nightly': 'H 2 * * *' is not a cron schedule",
    ),
    "bad-timezone": (
        _NIGHTLY + "    schedules:\n      - cron: '0 2 * * *'\n        timezone: Mars/Olympus\n",
        # The timezone's own line, not the schedule's (its cron line) above it.
        ":6: deployment 'nightly': timezone 'Mars/Olympus' is not an IANA name",
    ),
    "second-schedule-bad": (
        _NIGHTLY + "    schedules:\n      - cron: '0 2 * * *'\n      - cron: '0 2 * *'\n",
        ":6: deployment 'nightly': '0 2 * *' is not a cron",
    ),
    "interval-schedule": (
        _NIGHTLY + "    schedules:\n      - interval: 3600\n",
        ":5: deployment 'nightly': `linkhealth serve` reads only cron schedules",
    ),
    "schedules-a-string": (
        _NIGHTLY + "    schedules: '0 2 * * *'\n",
        ":4: deployment 'nightly': `schedules` must be a list",
    ),
    "active-not-a-bool": (
        _NIGHTLY + "    schedules:\n      - {cron: '0 2 * * *', active: 'yes'}\n",
        ":5: deployment 'nightly': schedule `active` must be true or false",
    ),
    "parameters-a-list": (
        _NIGHTLY + "    parameters: [render]\n",
        ":4: deployment 'nightly': `parameters` must be a mapping",
    ),
    "concurrency-limit-zero": (
        _NIGHTLY + "    concurrency_limit: 0\n",
        ":4: deployment 'nightly': `concurrency_limit` must be a whole number",
    ),
}


@pytest.mark.parametrize(("text", "says"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_prefect_yaml_is_refused_naming_the_line(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised:
        read_deployments(path)

    assert str(raised.value).startswith(f"{path}{says}"), str(raised.value)


#: Found when the flows are loaded: what Prefect or the flow itself would refuse.
REFUSED_WHEN_SERVED = {
    "no-such-flow": (
        "deployments:\n  - name: nightly\n    entrypoint: flows/check_flow.py:nope\n",
        ":2: deployment 'nightly': entrypoint flows/check_flow.py:nope: no flow 'nope'",
    ),
    "no-such-file": (
        "deployments:\n  - name: nightly\n    entrypoint: flows/nope.py:check_catalog\n",
        ":2: deployment 'nightly': entrypoint flows/nope.py:check_catalog: no such file",
    ),
    "not-a-flow": (
        "deployments:\n  - name: nightly\n    entrypoint: flows/serve.py:serve\n",
        ":2: deployment 'nightly': entrypoint flows/serve.py:serve: 'serve' is not a Prefect flow",
    ),
    "unknown-parameter": (
        _NIGHTLY + "    parameters:\n      shards: 2\n",
        ":2: deployment 'nightly': `parameters`: the flow 'check-catalog' takes no parameter "
        "'shards'",
    ),
    "unknown-trigger-parameter": (
        _NIGHTLY
        + "    triggers:\n      - type: event\n        expect: [linkhealth.catalog.edited]\n"
        "        parameters: {changed_only: true}\n",
        ":2: deployment 'nightly': trigger 1: the flow 'check-catalog' takes no parameter "
        "'changed_only'",
    ),
    "bad-trigger": (
        _NIGHTLY + "    triggers:\n      - type: event\n        posture: Sideways\n",
        ":2: deployment 'nightly': trigger 1: event.posture: Input should be",
    ),
    "trigger-not-a-mapping": (
        _NIGHTLY + "    triggers:\n      - linkhealth.catalog.edited\n",
        ":2: deployment 'nightly': trigger 1 must be a mapping",
    ),
}


@pytest.mark.parametrize(("text", "says"), REFUSED_WHEN_SERVED.values(), ids=REFUSED_WHEN_SERVED)
def test_a_deployment_prefect_would_refuse_is_refused_naming_the_line(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised:
        runner_deployments(read_deployments(path))

    assert str(raised.value).startswith(f"{path}{says}"), str(raised.value)


def test_the_shipped_prefect_yaml_reads_as_plain_data() -> None:
    """ruamel's round-trip types (kept for the line numbers) stay out of the parameters
    Prefect stores as JSON."""
    specs = {spec.name: spec for spec in read_deployments(ROOT / "prefect.yaml")}

    recheck = specs["recheck"]
    assert type(recheck.parameters["resource_ids"]) is list
    assert type(recheck.triggers[0]) is dict
    assert recheck.where == f"{ROOT / 'prefect.yaml'}:{_line_of('  - name: recheck')}"
    assert type(specs["nightly"].parameters["render"]) is bool


def _line_of(text: str) -> int:
    lines = (ROOT / "prefect.yaml").read_text().splitlines()
    return lines.index(text) + 1


def test_serve_says_what_is_wrong_on_stderr_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.prefect_server
    from flows.cli import app

    started: list[bool] = []
    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: started.append(True))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "prefect.yaml"
    path.write_text(
        _NIGHTLY + "    schedules:\n      - cron: '0 2 * * *'\n        timezone: CET+1\n"
    )

    result = CliRunner().invoke(app, ["serve", "--prefect-yaml", str(path)])

    assert result.exit_code == 2, result.output
    assert f"error: {path}:6: deployment 'nightly': timezone 'CET+1'" in result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stdout
    assert not started  # refused before a Prefect server's ~15 s start, not after it


def test_serve_serves_its_deployments_on_the_prefect_server_that_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth serve` with the local server up and no PREFECT_API_URL: the deployments
    go to that server (checking prefect.yaml imports Prefect before the server is found)."""
    import prefect.context

    import flows.prefect_server
    import flows.serve
    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: True)
    monkeypatch.chdir(tmp_path)
    served_to: list[str | None] = []

    def serve(specs: list[object], say: object, take_over: bool = False) -> None:
        from prefect.settings import get_current_settings

        served_to.append(get_current_settings().api.url)

    monkeypatch.setattr(flows.serve, "serve", serve)

    prefect.context.refresh_global_settings_context()  # as imported with no address
    # In a context of its own, as a command's: not under the flow tests' harness settings.
    result = contextvars.Context().run(
        CliRunner().invoke, app, ["serve", "--prefect-yaml", str(ROOT / "prefect.yaml")]
    )

    assert result.exit_code == 0, result.output
    assert served_to == [flows.prefect_server.api_url()]


def test_serve_gives_the_command_that_runs_a_deployment_with_its_api_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect's banner said `$ prefect deployment run [DEPLOYMENT_NAME]`: typed as shown, in
    a shell without PREFECT_API_URL, it starts a throw-away server (with PREFECT_HOME set,
    one on the live server's database: "database is locked"). `serve` says its own line."""
    import prefect

    import flows.serve

    url = "http://127.0.0.1:4299/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    monkeypatch.setattr(flows.serve, "pools_with_workers", lambda deployments: [])
    served: list[dict[str, object]] = []

    def serve(*deployments: object, **options: object) -> None:
        served.append(options)

    monkeypatch.setattr(prefect, "serve", serve)
    said: list[str] = []
    specs = flows.serve.servable(read_deployments(ROOT / "prefect.yaml"))
    me = flows.serve.Owner(host="here", home=str(ROOT), folder=str(ROOT), pid=1)
    flows.serve._serve(specs, said.append, me, False)
    # No banner of Prefect's; nor its pause of all it served when it stops (`release`).
    assert served == [{"print_starting_message": False, "pause_on_shutdown": False}]
    (line,) = said
    assert line.startswith(
        "Serving check-catalog/nightly, recheck/recheck, publish-report/report (Ctrl-C stops)."
    )
    assert f"`PREFECT_API_URL={url} prefect deployment run check-catalog/nightly`" in line
    assert "http://127.0.0.1:4299/deployments" in line
