"""Storage stage: every SQL write, and the reads sync, plan and export need.

Inputs: `catalog.model` records (Catalog, Resource, Observation) and settings.
Outputs: frozen records (`RunRecord`, `EventRecord`, `LinkStateRecord`, ...); ORM objects
never leave this package. Elsewhere SQL is spoken only by `catalog.queries` (the
report's reads), `catalog.retention` (pruning), `catalog.transfer` (`db copy`) and the
schema's upkeep (`catalog.db`, `catalog.migrate`, `catalog.rekey`).

Each public function is one short transaction. On SQLite, writes start with
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing
when a read lock cannot be upgraded; on PostgreSQL they take one transaction-level
advisory lock, so writers queue the same way there. `catalog.sync` composes several
writes into one transaction per catalog through `write_session` and the
`Session`-taking helpers of `_sync_rows`. Run leases (`acquire_lease`,
`abort_stale_runs`) live here too; `catalog.runs` holds their rules.

The parts are private modules with one public surface, this one (as httpx does): one
module per kind of row, so that each reads on its own. `_sql` (transactions), `_records`
(what callers get back), `_runs`, `_leases`, `_sync_rows`, `_targets` (the plan's read),
`_observations` (the check's one writer), `_decisions`, `_staleness`, `_archive` and
`_reads` (history, status and export).
"""

from catalog.store._archive import ArchiveCache, ArchiveCandidate, archive_candidates, set_archive
from catalog.store._decisions import (
    DECISION_COLUMNS,
    decisions_for,
    permanent_redirect_target,
    record_decision,
    recording_decision,
)
from catalog.store._leases import (
    COPY_TOKEN,
    FOUND_DEAD,
    PROCESS_GONE,
    LeaseClaim,
    LeaseRecord,
    LiveRun,
    abort_stale_runs,
    acquire_lease,
    copy_holder,
    get_lease,
    holder_gone,
    is_copy_holder,
    lease_holder,
    leases,
    live_runs,
    refuse_while_copying,
    release_lease,
    renew_lease,
)
from catalog.store._observations import (
    DRIFT_HISTORY,
    STORE_CHUNK,
    active_rids,
    answering_urls,
    link_states,
    record_observations,
    stored_collections,
)
from catalog.store._reads import (
    RunVerdict,
    find_resource,
    resource_history,
    resource_statuses,
    run_verdicts,
)
from catalog.store._records import (
    DecisionRecord,
    EventRecord,
    LinkStateRecord,
    ObservationRecord,
    ResourceHistory,
    ResourceRecord,
    ResourceStatus,
    RunRecord,
    StaleNote,
    StoredResource,
)
from catalog.store._runs import (
    DRIFTED_LINKS,
    REFUSED,
    REFUSED_IDS,
    drifted_in_run,
    finish_run,
    get_run,
    group_ended_shards,
    group_shard_runs,
    latest_runs,
    mark_run_network_unavailable,
    note_run_alive,
    note_run_progress,
    record_refused_run,
    set_run_planned,
    start_run,
    update_run_summary,
)
from catalog.store._sql import (
    CHUNK,
    PG_WRITE_LOCK,
    ensure_writable,
    read_session,
    write_session,
)
from catalog.store._staleness import refresh_staleness, reviewed_at
from catalog.store._sync_rows import (
    NewEvent,
    ResourceWrite,
    add_event,
    add_events,
    collection_files,
    collection_ids,
    ensure_links,
    insert_resources,
    mark_removed,
    move_resources,
    stored_resources,
    stored_rids,
    update_lines,
    update_resources,
    upsert_collection,
)
from catalog.store._targets import targets_for_check

__all__ = [
    "CHUNK",
    "COPY_TOKEN",
    "DECISION_COLUMNS",
    "DRIFTED_LINKS",
    "DRIFT_HISTORY",
    "FOUND_DEAD",
    "PG_WRITE_LOCK",
    "PROCESS_GONE",
    "REFUSED",
    "REFUSED_IDS",
    "STORE_CHUNK",
    "ArchiveCache",
    "ArchiveCandidate",
    "DecisionRecord",
    "EventRecord",
    "LeaseClaim",
    "LeaseRecord",
    "LinkStateRecord",
    "LiveRun",
    "NewEvent",
    "ObservationRecord",
    "ResourceHistory",
    "ResourceRecord",
    "ResourceStatus",
    "ResourceWrite",
    "RunRecord",
    "RunVerdict",
    "StaleNote",
    "StoredResource",
    "abort_stale_runs",
    "acquire_lease",
    "active_rids",
    "add_event",
    "add_events",
    "answering_urls",
    "archive_candidates",
    "collection_files",
    "collection_ids",
    "copy_holder",
    "decisions_for",
    "drifted_in_run",
    "ensure_links",
    "ensure_writable",
    "find_resource",
    "finish_run",
    "get_lease",
    "get_run",
    "group_ended_shards",
    "group_shard_runs",
    "holder_gone",
    "insert_resources",
    "is_copy_holder",
    "latest_runs",
    "lease_holder",
    "leases",
    "link_states",
    "live_runs",
    "mark_removed",
    "mark_run_network_unavailable",
    "move_resources",
    "note_run_alive",
    "note_run_progress",
    "permanent_redirect_target",
    "read_session",
    "record_decision",
    "record_observations",
    "record_refused_run",
    "recording_decision",
    "refresh_staleness",
    "refuse_while_copying",
    "release_lease",
    "renew_lease",
    "resource_history",
    "resource_statuses",
    "reviewed_at",
    "run_verdicts",
    "set_archive",
    "set_run_planned",
    "start_run",
    "stored_collections",
    "stored_resources",
    "stored_rids",
    "targets_for_check",
    "update_lines",
    "update_resources",
    "update_run_summary",
    "upsert_collection",
    "write_session",
]
