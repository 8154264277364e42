"""API keys: random secrets shown once, stored only as a SHA-256 hash with a key id and a role.

The keys file (`Settings.keys_file`, JSON) is written atomically (temp file + rename, under a lock
file) and read through a small cache that reloads when the file changes, so `kompetensi keys create`
takes effect in a running server without a restart. SHA-256 without salt is enough here because the
secrets are 256-bit random tokens, not passwords: there is nothing to brute-force.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from features.atomic import write_atomic
from features.settings import get_settings

Role = Literal["reader", "planner", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}  # reader < planner < admin
FILE_VERSION = 1


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    sha256: str
    created_at: str
    label: str = ""

    def allows(self, role: str) -> bool:
        """Whether this key's role is at least `role`."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _default_keys_file() -> Path:

    return get_settings().keys_file


def _read_records(path: Path) -> list[KeyRecord]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [KeyRecord(**{k: v for k, v in item.items() if k in KeyRecord.__dataclass_fields__})
            for item in raw.get("keys", [])]


def _write_records(path: Path, records: list[KeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": FILE_VERSION, "keys": [asdict(r) for r in records]}, indent=2)
    write_atomic(path, payload + "\n", fsync=True, mode=0o600)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the keys file across processes (two `keys create` at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_key(role: str, keys_file: Path | None = None, label: str = "") -> tuple[str, str]:
    """Create a key with `role`; returns (key_id, secret). The secret is not stored and cannot be shown again."""
    if role not in ROLE_RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    path = Path(keys_file) if keys_file is not None else _default_keys_file()
    secret = secrets.token_urlsafe(32)
    with _locked(path):
        records = _read_records(path)
        taken = {r.key_id for r in records}
        key_id = "key_" + secrets.token_hex(4)
        while key_id in taken:  # 32 random bits: a clash is rare but cheap to rule out
            key_id = "key_" + secrets.token_hex(4)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        records.append(KeyRecord(key_id, role, hash_secret(secret), created, label))
        _write_records(path, records)
    return key_id, secret


def revoke_key(key_id: str, keys_file: Path | None = None) -> bool:
    """Remove a key; True when it existed."""
    path = Path(keys_file) if keys_file is not None else _default_keys_file()
    with _locked(path):
        records = _read_records(path)
        kept = [r for r in records if r.key_id != key_id]
        if len(kept) == len(records):
            return False
        _write_records(path, kept)
    return True


def list_keys(keys_file: Path | None = None) -> list[KeyRecord]:
    """The stored key records (ids, roles, hashes; never secrets)."""
    return _read_records(Path(keys_file) if keys_file is not None else _default_keys_file())


class KeyStore:
    """Verifies secrets against one keys file, re-reading it only when its stat signature changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._by_hash: dict[str, KeyRecord] = {}

    def _refresh(self) -> dict[str, KeyRecord]:
        try:
            st = self.path.stat()
            signature: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = None
        with self._lock:
            if signature != self._signature:
                records = _read_records(self.path) if signature is not None else []
                self._by_hash = {r.sha256: r for r in records if r.role in ROLE_RANK}
                self._signature = signature
            return self._by_hash

    def verify(self, secret: str) -> KeyRecord | None:
        """The key record for `secret`, or None when it is not a valid key."""
        if not secret:
            return None
        digest = hash_secret(secret)
        record = self._refresh().get(digest)
        # The dict lookup already matched; compare_digest keeps the final check constant-time anyway.
        if record is None or not hmac.compare_digest(record.sha256, digest):
            return None
        return record


_stores: dict[Path, KeyStore] = {}
_stores_lock = threading.Lock()


def key_store(keys_file: Path | None = None) -> KeyStore:
    """The cached `KeyStore` for a keys file (the configured one by default)."""
    path = (Path(keys_file) if keys_file is not None else _default_keys_file()).resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = KeyStore(path)
        return store


def verify(secret: str, keys_file: Path | None = None) -> KeyRecord | None:
    """The key record for `secret` in the (configured) keys file, or None."""
    return key_store(keys_file).verify(secret)
