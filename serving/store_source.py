"""The server's view of the store: the current snapshot's id (cheap, for polling) and its tables.

A snapshot is identified by its content hash, the same value as `Export.snapshot_id`, so re-ingesting
identical data does not make the server reload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.store import NoSnapshot, current_snapshot_info, get_engine, load_snapshot

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from features.export import Export
    from features.settings import Settings


def engine(settings: Settings) -> Engine:
    """The store engine of `settings` (shared with the rest of the process, one per URL)."""

    return get_engine(settings.store_url)


def current_snapshot_id(settings: Settings) -> str | None:
    """The content hash of the current snapshot, None when nothing was ingested."""

    info = current_snapshot_info(engine(settings))
    return None if info is None else info.content_sha256


def load_current_snapshot(settings: Settings) -> Export | None:
    """The current snapshot without protected columns, None when nothing was ingested."""

    try:
        return load_snapshot(engine(settings), include_protected=False)
    except NoSnapshot:
        return None
