"""Commands printed for curators to paste: how one is spelled (`command_words`), and what
it needs to act where the text that printed it looked (`command_options`).

Reports, `catalog lint` and error messages suggest commands for curators to paste
(`linkhealth accept-redirect ID`). Typed in the same folder with no options, such a
command reads `./linkhealth.toml` (and whatever LINKHEALTH_* variables the curator's
shell sets, which the printing process cannot know). A report of a trial database
(`linkhealth report --db sqlite:///var/trial.db`) or of another config would then have its
commands decide on the configured database instead: `command_options` says which
`--config` and `--db` they must carry, and which catalog files need a `--catalog`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import ConfigError
from catalog.settings import Settings, load_settings

__all__ = ["CommandOptions", "command_options", "command_words", "with_options"]


@dataclass(frozen=True)
class CommandOptions:
    #: `--config FILE` and `--db URL`, when the default lookup would find others.
    words: tuple[str, ...] = ()
    #: The catalog files a command typed with `words` reads (resolved); None: any file
    #: (library use, where no command is typed).
    read: frozenset[Path] | None = None

    def for_file(self, file: str | Path) -> tuple[str, ...]:
        """`words`, and `--catalog FILE` for an entry of a file such a command would not
        read (a `catalog lint draft.yaml` finding). A decision finds its entry in the
        database either way; the `recheck --changed` it then suggests reads that file."""
        path = Path(file)
        if self.read is None or path.resolve() in self.read:
            return self.words
        return (*self.words, "--catalog", str(path))

    def for_catalogs(self, paths: Sequence[str | Path]) -> tuple[str, ...]:
        """`--catalog PATH` for each of `paths`, for a command that must read just those
        catalogs (a report's `catalog lint`, which counts their findings), unless one typed
        with `words` reads those files already; none where `read` is None (library use)."""
        from catalog.source import catalog_files

        if self.read is None:
            return ()
        if frozenset(p.resolve() for p in catalog_files(paths)) == self.read:
            return ()
        return tuple(word for path in paths for word in ("--catalog", str(path)))


def command_options(settings: Settings) -> CommandOptions:
    """The options a command pasted in this folder needs to reach `settings`' database
    and config. The reference is a shell that sets no LINKHEALTH_CONFIG or
    LINKHEALTH_DATABASE_URL: `serve` sets the one, cron and systemd units often the
    other, and a curator's shell need not. A password is left out of the database URL
    (reports get published): the command then takes it from PGPASSWORD or ~/.pgpass."""
    from sqlalchemy.engine import make_url

    from catalog.db import absolute_sqlite_url, without_secrets
    from catalog.source import catalog_files

    try:
        typed: Settings | None = load_settings(use_env=False)
    except ConfigError:
        typed = None  # the default lookup fails: name everything
    words: list[str] = []
    if settings.config_file is not None and not _same_file(
        settings.config_file, typed.config_file if typed else None
    ):
        words += ["--config", str(settings.config_file)]
        try:
            typed = load_settings(settings.config_file, use_env=False)
        except ConfigError:  # edited since: the --db and every --catalog say it all
            typed = None
    wanted = absolute_sqlite_url(settings.database_url)
    if typed is None or absolute_sqlite_url(typed.database_url) != wanted:
        url = without_secrets(make_url(settings.database_url))
        words += ["--db", url.render_as_string(hide_password=False)]
    read = frozenset(p.resolve() for p in catalog_files(typed.catalogs)) if typed else frozenset()
    return CommandOptions(tuple(words), read)


def _same_file(a: Path, b: Path | None) -> bool:
    return b is not None and a.resolve() == b.resolve()


def command_words(name: str, resource_id: str, *args: str) -> list[str]:
    """`linkhealth NAME ID ARGS...` as words for `shlex.join`. An id that starts with "-"
    would be read as an option, so then the options (`--name value` pairs among `args`)
    come first and `--` marks where the id and the other arguments begin."""
    if not resource_id.startswith("-"):
        return ["linkhealth", name, resource_id, *args]
    options: list[str] = []
    positional: list[str] = []
    rest = iter(args)
    for word in rest:
        if word.startswith("--"):
            options += [word, next(rest, "")]
        else:
            positional.append(word)
    return ["linkhealth", name, *options, "--", resource_id, *positional]


def with_options(command: str, resource_id: str, options: Sequence[str]) -> str:
    """`command` (shell-quoted) with `options` added: before the `--` that precedes an id
    starting with "-" (`command_words`), else at the end."""
    words = shlex.split(command)
    at = len(words)
    if "--" in words and words[words.index("--") + 1 :][:1] == [resource_id]:
        at = words.index("--")
    return shlex.join([*words[:at], *options, *words[at:]]) if options else command
