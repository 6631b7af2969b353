"""The main thread's work of an unchanged night, without the checking: CPU by section.

Stage: benchmark. Input: the workdir of a `bench/run --second-run` (its flow database and
catalog). Output: CPU seconds of preparing a run (load, sync with its staleness refresh,
targets, plan), storing the last run's observations again a day later in the planned
batches, and finishing (the second staleness refresh), each on a fresh copy of the
database. The checking loop's CPU is left out on purpose: this workload is deterministic
(the same observations every time), so a change of the store, sync or staleness code can be
compared A/B in seconds, where a 10k flow varies by ±10–30 % on a shared machine.

    PYTHONPATH=. .venv/bin/python -m bench.nightmain WORKDIR [--repeat 3] [--profile OUT]
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, func, select

from catalog import tables as t
from catalog.model import Hop, Observation
from catalog.outcomes import Outcome

T = TypeVar("T")


def last_run_observations(db: Path, shift: timedelta) -> list[Observation]:
    """The observations of the database's last run, `shift` later, in id order."""
    engine = create_engine(f"sqlite:///{db}")
    table = t.Observation.__table__
    with engine.connect() as conn:
        last = conn.execute(select(func.max(table.c.run_id))).scalar_one()
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


def night(workdir: Path, repeat: int, profile: Path | None) -> list[dict[str, float]]:
    from catalog.runs import finish_run, prepare_run, store_batch
    from catalog.settings import load_settings

    source = workdir / "flow" / "linkhealth.db"
    config = workdir / "flow" / "linkhealth.toml"
    engine = create_engine(f"sqlite:///{source}")
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(t.Observation.__table__.c.checked_at))).scalar_one()
    engine.dispose()
    shift = timedelta(days=1)
    observations = last_run_observations(source, shift)
    now = newest + shift + timedelta(minutes=1)
    figures = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="nightmain-") as tmp:
            db = Path(tmp) / "linkhealth.db"
            shutil.copy(source, db)
            text = config.read_text(encoding="utf-8")
            old_db = text.split('database_url = "sqlite:///', 1)[1].split('"', 1)[0]
            (Path(tmp) / "linkhealth.toml").write_text(text.replace(old_db, str(db)), "utf-8")
            settings = load_settings(Path(tmp) / "linkhealth.toml")
            clock = _fixed(now)
            spent: dict[str, float] = {}
            profiler = cProfile.Profile() if profile is not None else None
            if profiler is not None:
                profiler.enable()
            prepared = _timed(spent, "prepare", lambda: prepare_run(settings, trigger="bench", clock=clock))
            by_url = {o.url: o for o in observations}
            stored = []
            for batch in prepared.batches:
                batch_obs = [by_url[tg.url] for tg in batch.targets if tg.url in by_url]
                stored.append(
                    _timed(
                        spent,
                        "store",
                        lambda b=batch_obs: store_batch(settings, prepared.run_id, b, clock=clock),  # type: ignore[misc]
                    )
                )
            _timed(
                spent,
                "finish",
                lambda: finish_run(settings, prepared.run_id, stored=stored, sync=prepared.sync, clock=clock),
            )
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
            spent["total"] = sum(spent.values())
            spent["observations"] = sum(s.observations for s in stored)
            figures.append(spent)
            print(" ".join(f"{k} {v:.3f}" for k, v in spent.items()), flush=True)
    return figures


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
    args = parser.parse_args(argv)
    figures = night(args.workdir, args.repeat, args.profile)
    best: dict[str, Any] = {k: min(f[k] for f in figures) for k in figures[0]}
    print("min " + " ".join(f"{k} {v:.3f}" for k, v in best.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
