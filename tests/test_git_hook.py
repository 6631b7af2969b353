"""The git post-commit hook (deploy/git-hooks/post-commit) and what `linkhealth catalog edited`,
which it runs, leaves in its log: a curator reading it later must learn whether the edit
will be checked, and if not, what checks it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "deploy" / "git-hooks" / "post-commit"
BY_HAND = "linkhealth recheck --changed"
#: What `catalog edited toolkit.yaml` offers where no settings file names the catalogs: without
#: --catalog the recheck read the bundled demo catalog, never the file.
BY_HAND_OF_FILE = f"{BY_HAND} --catalog toolkit.yaml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _announced(monkeypatch: pytest.MonkeyPatch, served: bool | None) -> None:
    """A Prefect API that answers and takes the event; `served`: whether anything serves
    the recheck deployment there."""
    import flows.cli_ops
    import flows.events
    import flows.prefect_server

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url: True)
    monkeypatch.setattr(flows.events, "emit_catalog_edited", lambda files: True)
    monkeypatch.setattr(flows.events, "flush", lambda: None)
    monkeypatch.setattr(flows.cli_ops, "recheck_served", lambda: served)


@pytest.fixture
def edited(isolated_cwd: Path) -> Path:
    """A catalog file just committed, in a repository without linkhealth.toml (its
    catalogs are the service's to name)."""
    path = isolated_cwd / "toolkit.yaml"
    path.write_text("collection:\n  title: T\nresources: []\n", encoding="utf-8")
    return path


@pytest.mark.usefixtures("edited")
def test_an_edit_nobody_was_told_about_says_how_to_check_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Git's environment often lacks PREFECT_API_URL: the log said only "not announced"."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing listens on the discard port
    result = CliRunner().invoke(app, ["catalog", "edited", "toolkit.yaml"])
    assert result.exit_code == 0, result.output
    assert "not announced" in result.stderr
    assert f"`{BY_HAND_OF_FILE}`" in result.stderr
    assert "PREFECT_API_URL is not in this environment" in result.stderr


@pytest.mark.usefixtures("edited")
def test_an_edit_announced_where_nothing_serves_the_recheck_says_how_to_check_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The event went out, but no `serve` or worker runs the recheck deployment; when one
    does (or the API cannot tell), the log asks for nothing."""
    said = {}
    for served in (False, True, None):
        _announced(monkeypatch, served=served)
        result = CliRunner().invoke(app, ["catalog", "edited", "toolkit.yaml"])
        assert result.exit_code == 0, result.output
        said[served] = result.stderr
    assert "announced the catalog edit to http://127.0.0.1:4999/api" in said[False]
    assert "nothing serves the recheck deployment" in said[False]
    assert f"`{BY_HAND_OF_FILE}`" in said[False]
    assert said[True] == said[None] == "announced the catalog edit to http://127.0.0.1:4999/api\n"


def test_a_file_that_is_not_there_or_not_a_configured_catalog_is_an_error_naming_it(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`catalog edited nothere.yaml` said "announced", exit 0: the recheck deployment
    checks the configured catalogs, and nothing of a typo. (A trial file beside it is named
    too; alone, it is left out without failing: the next test.)"""
    sent: list[list[str]] = []
    _announced(monkeypatch, served=True)
    monkeypatch.setattr("flows.events.emit_catalog_edited", _into(sent))
    (isolated_cwd / "catalogs").mkdir()
    for name in ("catalogs/a.yaml", "trial.yaml"):
        (isolated_cwd / name).write_text("collection:\n  title: T\nresources: []\n")
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["catalogs"]\n')

    def edited(*files: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["catalog", "edited", *files])
        return result.exit_code, result.stderr

    code, said = edited("catalogs/a.yaml", "nothere.yaml", "trial.yaml")
    assert code == 2 and sent == [], said
    assert "nothere.yaml: no such file; trial.yaml: not a configured catalog" in said
    assert "the edit was not announced" in said
    # A configured file, and one deleted from a configured folder (its entries go).
    assert edited("catalogs/a.yaml", "catalogs/gone.yaml") == (
        0,
        "announced the catalog edit to http://127.0.0.1:4999/api\n",
    )
    # Where no settings file names the catalogs (a hook in a catalog repository of its
    # own), the service's are unknown: only a file that is not there is refused.
    (isolated_cwd / "linkhealth.toml").unlink()
    assert edited("trial.yaml")[0] == 0
    assert edited("nothere.yaml")[0] == 2
    assert sent == [["catalogs/a.yaml", "catalogs/gone.yaml"], ["trial.yaml"]]


def test_a_committed_file_that_is_no_configured_catalog_is_named_and_left_out_never_failing(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook passes every YAML file a commit touched under its paths: an unrelated one
    (a trial file, a CI config) made `catalog edited` exit 2 and announce nothing, the
    catalog's own edits in the same commit included, where its help says it runs from a
    git hook."""
    sent: list[list[str]] = []
    _announced(monkeypatch, served=True)
    monkeypatch.setattr("flows.events.emit_catalog_edited", _into(sent))
    (isolated_cwd / "catalogs").mkdir()
    for name in ("catalogs/a.yaml", "trial.yaml"):
        (isolated_cwd / name).write_text("collection:\n  title: T\nresources: []\n")
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["catalogs"]\n')

    both = CliRunner().invoke(app, ["catalog", "edited", "catalogs/a.yaml", "trial.yaml"])
    assert both.exit_code == 0, both.output
    assert sent == [["catalogs/a.yaml"]]
    assert both.stderr == (
        "warning: trial.yaml: not a configured catalog: left out, the recheck deployment "
        "checks only the catalogs of linkhealth.toml (or LINKHEALTH_CONFIG's file)\n"
        "announced the catalog edit to http://127.0.0.1:4999/api\n"
    )
    alone = CliRunner().invoke(app, ["catalog", "edited", "trial.yaml"])
    assert alone.exit_code == 0, alone.output
    assert sent == [["catalogs/a.yaml"]]
    assert "trial.yaml: not a configured catalog" in alone.stderr
    assert alone.stderr.endswith("nothing announced: no configured catalog among the files\n")


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A catalog repository with the hook installed as the README says."""
    repo = tmp_path / "catalogs"
    (repo / "catalog" / "data").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".git" / "hooks" / "post-commit").symlink_to(HOOK)
    return repo


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "LINKHEALTH_", "PREFECT_API_URL"))
    }
    # A PATH without linkhealth: the hook must use what it is given, or say it found none.
    env["PATH"] = "/usr/bin:/bin"
    env["HOME"] = str(tmp_path)  # no user git config
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "curator"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "curator@example.org"
    return env | extra


def _fake_linkhealth(tmp_path: Path) -> Path:
    """Records its arguments and the PREFECT_API_URL it was given, as `catalog edited`
    would have been run."""
    fake = tmp_path / "fake-linkhealth"
    fake.write_text('#!/bin/sh\necho "args: $* api: ${PREFECT_API_URL-unset}" >&2\n')
    fake.chmod(0o755)
    return fake


def _commit_an_edit(repo: Path, env: dict[str, str], text: str = "a") -> None:
    (repo / "catalog" / "data" / "toolkit.yaml").write_text(f"# {text}\n")
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "edit", env=env)


def _log(repo: Path, lines: int) -> list[str]:
    """The hook's log once it holds `lines` lines: it writes the rest in the background."""
    log = repo / ".git" / "linkhealth-hook.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = log.read_text().splitlines() if log.exists() else []
        if len(got) >= lines:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{log} has not {lines} lines: {got}")


def test_the_hook_logs_each_commit_with_its_time(repo: Path, tmp_path: Path) -> None:
    env = _env(tmp_path, LINKHEALTH_BIN=str(_fake_linkhealth(tmp_path)))
    _commit_an_edit(repo, env)
    stamp, said = _log(repo, 2)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, env=env, capture_output=True, text=True
    ).stdout.strip()
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ commit {head}", stamp)
    assert said == "args: catalog edited -- catalog/data/toolkit.yaml api: unset"


def test_the_hook_names_no_file_the_commit_deleted(repo: Path, tmp_path: Path) -> None:
    """`catalog edited` refuses a file that is not there: a deleted one, named with the
    one edited, kept that edit from being announced."""
    env = _env(tmp_path, LINKHEALTH_BIN=str(_fake_linkhealth(tmp_path)))
    (repo / "catalog" / "data" / "old.yaml").write_text("# old\n")
    _commit_an_edit(repo, env)
    assert _log(repo, 2)[1] == (
        "args: catalog edited -- catalog/data/old.yaml catalog/data/toolkit.yaml api: unset"
    )
    (repo / "catalog" / "data" / "old.yaml").unlink()
    _commit_an_edit(repo, env, text="b")
    assert _log(repo, 4)[3] == "args: catalog edited -- catalog/data/toolkit.yaml api: unset"
    (repo / "catalog" / "data" / "toolkit.yaml").unlink()  # a commit that only deletes
    _git(repo, "commit", "-q", "-a", "-m", "remove", env=env)
    time.sleep(1)
    assert len(_log(repo, 4)) == 4


def test_the_hook_takes_its_settings_from_git_config_when_the_environment_lacks_them(
    repo: Path, tmp_path: Path
) -> None:
    """A commit from an editor or a GUI has no shell profile's PREFECT_API_URL."""
    env = _env(tmp_path)
    _git(repo, "config", "linkhealth.bin", str(_fake_linkhealth(tmp_path)), env=env)
    _git(repo, "config", "linkhealth.prefectApiUrl", "http://config.example/api", env=env)
    _commit_an_edit(repo, env)
    assert _log(repo, 2)[1].endswith("api: http://config.example/api")
    # The environment's own value wins over the repository's.
    _commit_an_edit(repo, env | {"PREFECT_API_URL": "http://env.example/api"}, text="b")
    assert _log(repo, 4)[3].endswith("api: http://env.example/api")


def test_a_hook_that_finds_no_linkhealth_says_how_to_check_the_edit(
    repo: Path, tmp_path: Path
) -> None:
    """It exited silently: the curator never learnt that nothing was announced. The
    command names the file, as `catalog edited` names it where no settings file says the
    catalogs: a plain `recheck --changed` read the bundled demo catalog, never the edit."""
    env = _env(tmp_path, LINKHEALTH_BIN=str(tmp_path / "missing"))
    _commit_an_edit(repo, env)
    said = _log(repo, 2)[1]
    assert str(tmp_path / "missing") in said and "LINKHEALTH_BIN" in said
    assert said.endswith(f"run `{BY_HAND} --catalog catalog/data/toolkit.yaml` to check it")


def test_a_hook_that_finds_no_linkhealth_names_the_files_as_catalog_edited_does(
    repo: Path, tmp_path: Path
) -> None:
    """Each file the commit added or changed, quoted for the shell as `catalog edited`'s
    command quotes it (a space, an apostrophe)."""
    from flows.cli_ops import recheck_command

    env = _env(tmp_path, LINKHEALTH_BIN=str(tmp_path / "missing"))
    files = ["catalog/data/it's.csv", "catalog/data/my list.yaml", "catalog/data/toolkit.yaml"]
    for name in files[:2]:
        (repo / name).write_text("# new\n")
    _commit_an_edit(repo, env)
    said = _log(repo, 2)[1]
    offered = said.split("run `", 1)[1].removesuffix("` to check it")
    assert offered == recheck_command(files)
    assert shlex.split(offered)[4::2] == files


def _into(sent: list[list[str]]) -> Callable[[Sequence[str]], bool]:
    """A stand-in for `flows.events.emit_catalog_edited` that keeps the files announced."""

    def emit(files: Sequence[str]) -> bool:
        sent.append(list(files))
        return True

    return emit


#: File names a curator may give a catalog: a space, an apostrophe, an accent.
ODD_NAMES = ["catalog/data/café.yaml", "catalog/data/it's.csv", "catalog/data/my list.yaml"]


def test_the_hook_passes_each_odd_file_name_whole(repo: Path, tmp_path: Path) -> None:
    """xargs split "my list.yaml" in two and stopped at the apostrophe ("unmatched single
    quote"), and git wrote "café" quoted, which the hook's filter dropped: nothing of the
    commit was announced. Each name now reaches `catalog edited` as one argument."""
    fake = tmp_path / "each-argument"
    fake.write_text("#!/bin/sh\nfor a; do printf '<%s>' \"$a\"; done; echo\n")
    fake.chmod(0o755)
    env = _env(tmp_path, LINKHEALTH_BIN=str(fake))
    for name in ODD_NAMES:
        (repo / name).write_text("# new\n")
    _commit_an_edit(repo, env)
    names = [*ODD_NAMES, "catalog/data/toolkit.yaml"]
    assert _log(repo, 2)[1] == "".join(f"<{a}>" for a in ["catalog", "edited", "--", *names])


def test_a_hook_that_finds_no_linkhealth_names_a_file_with_an_accent(
    repo: Path, tmp_path: Path
) -> None:
    from flows.cli_ops import recheck_command

    env = _env(tmp_path, LINKHEALTH_BIN=str(tmp_path / "missing"))
    for name in ODD_NAMES:
        (repo / name).write_text("# new\n")
    _commit_an_edit(repo, env)
    offered = _log(repo, 2)[1].split("run `", 1)[1].removesuffix("` to check it")
    assert shlex.split(offered)[4::2] == [*ODD_NAMES, "catalog/data/toolkit.yaml"]
    assert offered == recheck_command([*ODD_NAMES, "catalog/data/toolkit.yaml"])


@pytest.mark.parametrize("config", ["service settings.toml", "it's/service.toml", "ABSOLUTE"])
def test_a_hook_that_finds_no_linkhealth_carries_the_settings_file_it_was_given(
    repo: Path, tmp_path: Path, config: str
) -> None:
    """LINKHEALTH_CONFIG in the hook's environment: `catalog edited` offers its file as an
    absolute --config, and so must the hook that finds no linkhealth (its command,
    pasted in a shell without the variable, read ./linkhealth.toml or the defaults)."""
    from flows.cli_ops import recheck_command

    path = tmp_path / "service.toml" if config == "ABSOLUTE" else repo / config
    env = _env(
        tmp_path,
        LINKHEALTH_BIN=str(tmp_path / "missing"),
        LINKHEALTH_CONFIG=str(path) if config == "ABSOLUTE" else config,  # the repository's
    )
    _commit_an_edit(repo, env)
    offered = _log(repo, 2)[1].split("run `", 1)[1].removesuffix("` to check it")
    assert offered == recheck_command(["catalog/data/toolkit.yaml"], config=path)


def test_a_file_name_git_still_quotes_is_said_and_the_others_announced(
    repo: Path, tmp_path: Path
) -> None:
    """A double quote or a backslash in a name: git writes it quoted, which names no file.
    It was dropped without a word; now the log says so, and the other files go."""
    env = _env(tmp_path, LINKHEALTH_BIN=str(_fake_linkhealth(tmp_path)))
    (repo / "catalog" / "data" / 'say "hi".yaml').write_text("# new\n")
    _commit_an_edit(repo, env)
    _stamp, quoted, said = _log(repo, 3)
    assert quoted.startswith(
        "not announced, its name holding a character git quotes: "
        '"catalog/data/say \\"hi\\".yaml"; rename it'
    )
    assert said == "args: catalog edited -- catalog/data/toolkit.yaml api: unset"


def test_a_file_named_like_an_option_reaches_catalog_edited_as_a_file(
    repo: Path, tmp_path: Path
) -> None:
    """Catalogs at the top of the repository (`catalogPaths .`), one named "-x.yaml":
    `catalog edited -x.yaml` read it as an option ("No such option: -x", exit 2), and
    nothing of the commit was announced nor said to check. The real command runs here,
    with no Prefect API to answer."""
    import sys

    linkhealth = tmp_path / "linkhealth"
    linkhealth.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m flows.cli "$@"\n')
    linkhealth.chmod(0o755)
    env = _env(
        tmp_path,
        LINKHEALTH_BIN=str(linkhealth),
        LINKHEALTH_PREFECT_PORT="9",  # the discard port: nothing answers
        PYTHONPATH=str(ROOT),
    )
    _git(repo, "config", "linkhealth.catalogPaths", ".", env=env)
    for name in ("-x.yaml", "--help.yaml"):
        (repo / name).write_text("collection:\n  title: T\nresources: []\n")
    _commit_an_edit(repo, env)
    said = _log(repo, 2)[1]
    files = ["--help.yaml", "-x.yaml", "catalog/data/toolkit.yaml"]
    assert said.startswith("no Prefect API answers at http://127.0.0.1:9/api"), said
    offered = said.split("run `", 1)[1].removesuffix("` to check it")
    assert shlex.split(offered)[4::2] == files
