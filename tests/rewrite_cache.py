"""Bytecode for the test run: pytest's assert-rewritten test modules cached, and written once.

This machine's image and CI set PYTHONDONTWRITEBYTECODE, under which pytest never caches
the test modules it rewrites and Python never caches the modules they import: each of
`make test`'s xdist workers parsed, rewrote and compiled all ~240 test modules and compiled
the project again, 15-18 CPU-s of its collection (5 with the cache). The suite runs with
bytecode caching on (in `__pycache__`, ignored by git; where it cannot be written pytest
and Python go on without it), and the controller writes the rewritten test modules before
the workers start, so that on a fresh clone three workers do not all rewrite the same files
side by side.

Pytest has no public API for its rewrite cache: this reads its private functions, and
leaves the rewriting to the workers, as before, where they are gone or work otherwise.
"""

from __future__ import annotations

import fnmatch
import os
import sys

import pytest


def allow_bytecode() -> None:
    """Cache bytecode in this process and in the processes the tests start."""
    sys.dont_write_bytecode = False
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def prewrite_rewritten_modules(config: pytest.Config) -> int:
    """Write pytest's rewrite cache for every test module under `testpaths` whose cache is
    missing or stale; the number written."""
    try:
        from _pytest.assertion import AssertionState
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _rewrite_test,
            _write_pyc,
            get_cache_dir,
            try_makedirs,
        )
    except ImportError:  # another pytest: its workers rewrite as they import
        return 0
    if config.getoption("assertmode") != "rewrite" or config.getini("enable_assertion_pass_hook"):
        return 0  # not rewritten, or rewritten otherwise: left to pytest
    state = AssertionState(config, "rewrite")
    patterns = [*config.getini("python_files"), "conftest.py"]
    written = 0
    for folder in config.getini("testpaths") or ["."]:
        for source in sorted((config.rootpath / folder).rglob("*.py")):
            if not any(fnmatch.fnmatch(source.name, p) for p in patterns):
                continue
            cache_dir = get_cache_dir(source)
            pyc = cache_dir / (source.name[:-3] + PYC_TAIL)
            if _read_pyc(source, pyc) is not None or not try_makedirs(cache_dir):
                continue
            try:
                source_hash, code = _rewrite_test(source, config)
            except SyntaxError:  # the worker that imports it reports it
                continue
            written += _write_pyc(state, code, source_hash, pyc)
    return written
