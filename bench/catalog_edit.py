"""Time one curator edit (`catalog.catalog_edit.apply_edits`) of a large YAML catalog.

Stage: benchmark (never imported by the product). Inputs: an entry count and which path to
time. Outputs: one JSON line per timed edit on stdout: the CPU and wall seconds of
`apply_edits` for one `reviewed_at` and one `url` edit of an entry in the middle of a
freshly written catalog, once for the plain catalog `bench.gencatalog` writes and once
for a hand-curated layout (comments between and inside entries, block scalars, lists).

    python -m bench.catalog_edit --entries 20000            # the splicing path
    python -m bench.catalog_edit --entries 20000 --full     # the whole-file round trip

`--full` times the whole-file round trip that every edit took before entries were
spliced; it needs minutes for 20,000 entries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from bench.gencatalog import generate, write_catalog
from catalog import catalog_edit
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import validate_catalog

__all__ = ["main", "time_edits", "time_phases", "write_curated"]


def write_curated(count: int, out: Path) -> Path:
    """A catalog laid out as curators write one by hand, `count` entries."""
    parts = [
        "# Resources for the training team; keep the sections in order.\n",
        "collection:\n",
        "  title: Curated resources   # shown in reports\n",
        "resources:\n",
    ]
    for n in range(1, count + 1):
        if n % 500 == 1:
            parts.append(f"\n  # --- section {n // 500 + 1} ---\n\n")
        parts.append(
            f"  - id: res-{n:06d}  # added by hand\n"
            f"    title: 'Resource {n}: a guide'\n"
            f"    url: https://site{n % 97}.example.org/guides/{n}\n"
            f"    publisher: Institute {n % 13}\n"
            "    languages: [en, es]\n"
            "    tags:\n"
            "      - guide\n"
            f"      - topic-{n % 7}\n"
        )
        if n % 3 == 0:
            parts.append(
                "    notes: >-\n      A folded note a curator wrote\n      over two lines.\n"
            )
        if n % 5 == 0:
            parts.append("    year: 2019\n")
    out.write_text("".join(parts), encoding="utf-8")
    return out


@contextlib.contextmanager
def _whole_file_round_trip() -> Iterator[None]:
    """Make `apply_edits` take the whole-file round trip, as every edit did before."""
    spliced = catalog_edit._edit_yaml
    catalog_edit._edit_yaml = catalog_edit._edit_yaml_whole  # type: ignore[assignment]
    try:
        yield
    finally:
        catalog_edit._edit_yaml = spliced  # type: ignore[assignment]


def time_edits(path: Path, rid: str, *, full: bool) -> list[dict[str, object]]:
    """CPU and wall seconds of two single-field edits of `rid` in `path`."""
    edits = [
        FieldEdit(rid, "reviewed_at", date(2026, 12, 3)),
        FieldEdit(rid, "url", "https://moved.example.org/new-home"),
    ]
    figures: list[dict[str, object]] = []
    with _whole_file_round_trip() if full else contextlib.nullcontext():
        for edit in edits:
            cpu, wall = time.process_time(), time.perf_counter()
            result = apply_edits(path, [edit])
            figures.append(
                {
                    "catalog": path.stem,
                    "path": "whole-file" if full else "splice",
                    "field": edit.field,
                    "changed": len(result.changed),
                    "cpu_s": round(time.process_time() - cpu, 3),
                    "wall_s": round(time.perf_counter() - wall, 3),
                    "bytes": path.stat().st_size,
                }
            )
    return figures


def time_phases(path: Path, rid: str) -> dict[str, object]:
    """CPU seconds of what an edit does, apart: the edit of the text (locating and
    splicing the entry), and the validation of the file it writes (`validate_catalog`,
    which refuses an edit that would add a problem)."""
    text = path.read_bytes().decode("utf-8-sig")
    edit = FieldEdit(rid, "title", "Phases timed")
    cpu = time.process_time()
    catalog_edit._edit_yaml(path, text, [edit])
    edited = time.process_time() - cpu
    cpu = time.process_time()
    validate_catalog(path)
    validated = time.process_time() - cpu
    return {
        "catalog": path.stem,
        "edit_text_cpu_s": round(edited, 3),
        "validate_cpu_s": round(validated, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help="time the whole-file round trip")
    parser.add_argument("--only", choices=("plain", "curated"), help="time one of the two catalogs")
    args = parser.parse_args(argv)
    middle = args.entries // 2
    with tempfile.TemporaryDirectory(prefix="linkhealth-bench-edit-") as tmp:
        if args.only != "curated":
            plain = Path(tmp) / "plain.yaml"
            entries = generate(args.entries, min(200, args.entries))
            write_catalog(entries, plain, "Bench catalog")
            for row in time_edits(plain, entries[middle].id, full=args.full):
                print(json.dumps(row), flush=True)
            if not args.full:
                print(json.dumps(time_phases(plain, entries[middle].id)), flush=True)
        if args.only != "plain":
            curated = write_curated(args.entries, Path(tmp) / "curated.yaml")
            for row in time_edits(curated, f"res-{middle:06d}", full=args.full):
                print(json.dumps(row), flush=True)
            if not args.full:
                print(json.dumps(time_phases(curated, f"res-{middle:06d}")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
