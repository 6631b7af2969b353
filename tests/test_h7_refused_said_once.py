"""`linkhealth check` refused for a configured catalog broken by an edit says the error once,
as its last line (`error: FILE:LINE: ...`), beside Prefect's own line for the failed run.
The report is still written again, headed by the refusal; its hygiene, which the broken
catalog leaves out, was a WARNING repeating the same error before them: three times."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from tests.factories import write_catalog

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.flow
def test_a_check_refused_for_its_broken_catalog_says_the_error_once(
    prefect_api: str, tmp_path: Path, migrated_db_url: str
) -> None:
    entries = [{"id": f"r{n}", "title": f"Resource {n}", "url": f"https://e.org/{n}"} for n in "12"]
    catalog = write_catalog(tmp_path / "toolkit.yaml", entries)
    lines = catalog.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = next(n for n, line in enumerate(lines, 1) if "title: Resource 2" in line)
    lines[broken - 1] = lines[broken - 1].replace("Resource 2", "Resource: 2: [two")
    catalog.write_text("".join(lines), encoding="utf-8")
    (tmp_path / "linkhealth.toml").write_text(
        f'database_url = "{migrated_db_url}"\ncatalogs = ["{catalog}"]\n', encoding="utf-8"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PREFECT_LOGGING_LEVEL": "INFO",  # as an operator's console shows the run
    }
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "check"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    err = done.stderr
    assert done.returncode == 5, err
    problem = f"{catalog}:{broken}: the YAML cannot be read"
    said = [line for line in err.splitlines() if problem in line]
    assert len(said) == 2, err
    assert "Finished in state Failed(" in said[0], err  # Prefect's record of the run's end
    assert err.rstrip("\n").splitlines()[-2:] == ["error: 1 problem in the catalog:", said[1]]
    assert "leaves out catalog hygiene" not in err, err
    # Written again all the same, headed by the refusal, where curators look.
    (report,) = tmp_path.glob("var/reports/latest.html")
    notice = LexborHTMLParser(report.read_text(encoding="utf-8")).css_first("#refused-notice")
    assert notice is not None and f"{catalog.name}:{broken}" in notice.text()
