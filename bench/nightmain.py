"""The main thread's work of an unchanged night, without the checking: CPU by section.

Stage: benchmark. Input: the workdir of a `bench/run --second-run` (its flow database and
catalog). Output: CPU seconds of preparing a run (load, sync with its staleness refresh,
targets, plan), storing the last run's observations again a day later in the planned
batches, and finishing (the second staleness refresh), each on a fresh copy of the
database. The checking loop's CPU is left out on purpose: this workload is deterministic
(the same observations every time), so a change of the store, sync or staleness code
can be compared A/B in seconds, where a 10k flow varies by ±10–30 % on a shared machine.
`--first`: a first night instead, the catalog synced into a new database and the first
run's observations stored. `--pages`: each observation of a simulated page read whole
carries that page's text sample and tail again, as the check gives them (they are not
stored), so that drift judging on the pages' text is in the store's figure as in a real
run; without it drift reads page titles only.

    PYTHONPATH=. .venv/bin/python -m bench.nightmain WORKDIR [--repeat 3] [--profile OUT]
        [--first] [--pages]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, func, select

from bench.simweb import _small_page, html_page, page_title
from catalog import tables as t
from catalog.model import Hop, Observation
from catalog.outcomes import Outcome

T = TypeVar("T")


def run_observations(db: Path, shift: timedelta, first: bool = False) -> list[Observation]:
    """The observations of the database's last run (`first`: its first), `shift` later,
    in id order."""
    engine = create_engine(f"sqlite:///{db}")
    table = t.Observation.__table__
    with engine.connect() as conn:
        pick = func.min if first else func.max
        last = conn.execute(select(pick(table.c.run_id))).scalar_one()
        rows = conn.execute(select(table).where(table.c.run_id == last).order_by(table.c.id))
        found = [
            Observation(
                url=r.url,
                checked_at=r.checked_at + shift,
                outcome=Outcome(r.outcome),
                reason=r.reason,
                http_status=r.http_status,
                final_url=r.final_url,
                chain=tuple(Hop(h["url"], h["status"]) for h in r.chain or ()),
                methods=tuple(m for m in r.methods.split(",") if m),
                elapsed_ms=r.elapsed_ms,
                retries=r.retries,
                content_type=r.content_type,
                content_length=r.content_length,
                etag=r.etag,
                last_modified=r.last_modified,
                fingerprint=r.fingerprint,
                title=r.title,
                bytes_read=r.bytes_read,
                not_modified=r.not_modified,
                suggested_url=r.suggested_url,
            )
            for r in rows
        ]
    engine.dispose()
    return found


def with_pages(observations: Sequence[Observation]) -> list[Observation]:
    """The observations, each of a simulated page whose title names it (its number is the
    URL's last path segment) and whose fingerprint it has given that page's text sample
    and tail as `checker._observe` makes them."""
    from catalog.check.checker import TEXT_SAMPLE_CHARS, _tail
    from catalog.check.content import analyse_body
    from catalog.model import pack_text

    found = []
    for obs in observations:
        n = (obs.final_url or obs.url).rstrip("/").rsplit("/", 1)[-1]
        body = None
        if n.isdigit() and obs.title is not None and obs.http_status == 200:
            if obs.title == page_title(int(n)):
                body = html_page(int(n))
            elif obs.title == f"Resource {n}":
                body = _small_page(int(n))
        if body is None or obs.not_modified:
            found.append(obs)
            continue
        page = analyse_body(body, obs.content_type, truncated=False)
        if page.fingerprint != obs.fingerprint:  # not the page that check read: no text
            found.append(obs)
            continue
        found.append(
            replace(
                obs,
                text_sample_packed=pack_text(page.text[:TEXT_SAMPLE_CHARS]),
                text_tail_packed=_tail(page.text),
            )
        )
    return found


def night(
    workdir: Path, repeat: int, profile: Path | None, first: bool = False, pages: bool = False
) -> list[dict[str, float]]:
    """CPU seconds by section of `repeat` nights, each on a fresh copy of the database."""
    source = workdir / "flow" / "linkhealth.db"
    engine = create_engine(f"sqlite:///{source}")
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(t.Observation.__table__.c.checked_at))).scalar_one()
    engine.dispose()
    shift = timedelta(days=1)
    observations = run_observations(source, shift, first)
    if pages:
        observations = with_pages(observations)
    figures = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="nightmain-") as tmp:
            spent = _one_night(
                workdir,
                Path(tmp),
                observations,
                newest + shift + timedelta(minutes=1),
                profile,
                first,
            )
        figures.append(spent)
        print(" ".join(f"{k} {v:.3f}" for k, v in spent.items()), flush=True)
    return figures


def _one_night(
    workdir: Path,
    tmp: Path,
    observations: Sequence[Observation],
    now: datetime,
    profile: Path | None,
    first: bool,
) -> dict[str, float]:
    from catalog.runs import finish_run, prepare_run, store_batch
    from catalog.settings import load_settings

    db = tmp / "linkhealth.db"
    if not first:  # `first`: a new database, the catalog synced into it for the first time
        shutil.copy(workdir / "flow" / "linkhealth.db", db)
    text = (workdir / "flow" / "linkhealth.toml").read_text(encoding="utf-8")
    old_db = text.split('database_url = "sqlite:///', 1)[1].split('"', 1)[0]
    (tmp / "linkhealth.toml").write_text(text.replace(old_db, str(db)), "utf-8")
    settings = load_settings(tmp / "linkhealth.toml")
    clock = _fixed(now)
    spent: dict[str, float] = {}
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()
    prepared = _timed(spent, "prepare", lambda: prepare_run(settings, trigger="bench", clock=clock))
    by_url = {o.url: o for o in observations}
    stored = []
    for batch in prepared.batches:
        checked = [by_url[target.url] for target in batch.targets if target.url in by_url]
        stored.append(
            _timed(
                spent,
                "store",
                functools.partial(store_batch, settings, prepared.run_id, checked, clock=clock),
            )
        )
    _timed(
        spent,
        "finish",
        lambda: finish_run(
            settings, prepared.run_id, stored=stored, sync=prepared.sync, clock=clock
        ),
    )
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    spent["total"] = sum(spent.values())
    spent["observations"] = sum(s.observations for s in stored)
    return spent


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _timed(spent: dict[str, float], name: str, call: Callable[[], T]) -> T:
    before = time.process_time()
    result = call()
    spent[name] = spent.get(name, 0.0) + time.process_time() - before
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.nightmain", description=__doc__)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--first",
        action="store_true",
        help="a first night: new database, the first run's observations",
    )
    parser.add_argument(
        "--pages",
        action="store_true",
        help="observations carry their simulated pages' text, for drift to judge",
    )
    args = parser.parse_args(argv)
    figures = night(args.workdir, args.repeat, args.profile, args.first, args.pages)
    best: dict[str, Any] = {k: min(f[k] for f in figures) for k in figures[0]}
    print("min " + " ".join(f"{k} {v:.3f}" for k, v in best.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
