"""The layering the README promises: catalog/ never imports Prefect, data flows one way."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import catalog

ROOT = Path(__file__).resolve().parent.parent


@functools.cache  # parsed once a process: four tests read catalog/, flows/ and reports/
def _imports(package: str) -> frozenset[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add((str(path.relative_to(ROOT)), node.module))
    return frozenset(found)


def test_catalog_never_imports_prefect_flows_or_reports() -> None:
    bad = {
        (f, m) for f, m in _imports("catalog") if m.split(".")[0] in ("prefect", "flows", "reports")
    }
    assert not bad


def test_reports_never_import_prefect_or_sqlalchemy() -> None:
    bad = {(f, m) for f, m in _imports("reports") if m.split(".")[0] in ("prefect", "sqlalchemy")}
    assert not bad


def test_only_the_transport_speaks_aiohttp() -> None:
    # Everything else sees httpx's requests, responses and exceptions (`reasons` matches on
    # them), so the wire library can change in one module.
    users = {
        f
        for package in ("catalog", "flows", "reports")
        for f, m in _imports(package)
        if m.split(".")[0] in ("aiohttp", "yarl")
    }
    assert users == {"catalog/check/transport.py"}


def test_private_modules_of_a_package_are_imported_only_within_it() -> None:
    # `catalog.store` and `catalog.importer` are one public surface each (their __init__);
    # a caller reaching into `_runs` or `_merge` ties itself to how the package is split.
    reaching = {
        (f, m)
        for package in ("catalog", "flows", "reports", "bench")
        for f, m in _imports(package)
        if m.split(".")[0] in ("catalog", "flows", "reports", "bench")
        and any(part.startswith("_") for part in m.split(".")[1:])
        and not f.startswith(m.rsplit(".", 1)[0].replace(".", "/") + "/")
    }
    assert not reaching


def test_importing_every_catalog_module_leaves_prefect_unloaded() -> None:
    code = (
        "import pkgutil, importlib, sys, catalog\n"
        "for m in pkgutil.walk_packages(catalog.__path__, 'catalog.'):\n"
        "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
        "sys.exit('prefect' in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_command_line_starts_without_the_libraries_of_its_heavier_commands() -> None:
    """Every command, `--help` too, pays for what `flows.cli` imports at its top: with the
    catalog importer there (and through it SQLAlchemy), `linkhealth --help` took 0.8 s."""
    code = (
        "import sys, flows.cli\n"
        "heavy = ['sqlalchemy', 'catalog.importer', 'prefect', 'httpx', 'jinja2', 'aiohttp']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


def test_public_names_are_exported() -> None:
    for name in catalog.__all__:
        assert hasattr(catalog, name), name
    assert sorted(catalog.__all__) == catalog.__all__
