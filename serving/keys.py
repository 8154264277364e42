"""API keys: random secrets shown once, stored only as a SHA-256 hash with a key id, a role and, if asked,
an expiry.

The keys file (`Settings.keys_file`, JSON) is written atomically (temp file + rename, under a lock
file) and read through a small cache that reloads when the file's stat signature changes (one `stat` per
request), so `kompetensi keys create | revoke | rotate` take effect in a running server at its next request,
without a restart. SHA-256 without salt is enough here because the secrets are 256-bit random tokens, not
passwords: there is nothing to brute-force.

Revoking keeps the record, marked `revoked_at`, so that `keys list` and the audit trail (which names key
ids) can still say whose key it was; rotating gives a key a new secret under the same id, role and name, so
the audit trail follows it across rotations, and the old secret stops working at once. A revoked or expired
key is refused with a 401 that says so (to the holder of its secret only: a wrong secret learns nothing).

Last use: `KeyStore.verify` notes the time in memory (one dict assignment); the server merges those times
into a file next to the keys file (`<name>.last_used.json`) every `LAST_USED_FLUSH_SECONDS` and when it
stops. A file write per request would cost more than the request, and the server never writes the keys
file itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from features.atomic import write_atomic
from features.settings import get_settings

Role = Literal["reader", "planner", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}  # reader < planner < admin
FILE_VERSION = 1
LAST_USED_FLUSH_SECONDS = 60.0  # last-used times are this stale at most (and exact after a clean stop)

log = logging.getLogger("serving.keys")


class UnknownKey(LookupError):
    """No key with this id in the keys file."""


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    sha256: str
    created_at: str
    label: str = ""
    expires_at: str | None = None  # ISO date-time (UTC); refused from then on
    revoked_at: str | None = None
    rotated_at: str | None = None  # when the secret was last replaced

    def allows(self, role: str) -> bool:
        """Whether this key's role is at least `role`."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def expires(self) -> datetime | None:
        return _parse(self.expires_at)

    def status(self, now: datetime | None = None) -> str:
        """active, expired or revoked."""
        if self.revoked_at:
            return "revoked"
        expires = self.expires
        return "expired" if expires is not None and (now or _now()) >= expires else "active"

    def refused_from(self) -> float:
        """The moment (epoch seconds) from which the key is refused: -inf when revoked, inf without expiry."""
        if self.revoked_at:
            return -math.inf
        expires = self.expires
        return math.inf if expires is None else expires.timestamp()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _default_keys_file() -> Path:

    return get_settings().keys_file


def _keys_path(keys_file: Path | None) -> Path:
    return Path(keys_file) if keys_file is not None else _default_keys_file()


def last_used_path(keys_file: Path) -> Path:
    """The file of last-used times next to the keys file (written by the server, read by `keys list`)."""
    return keys_file.with_name(keys_file.stem + ".last_used.json")


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


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_key(role: str, keys_file: Path | None = None, label: str = "",
               expires_at: datetime | None = None) -> tuple[str, str]:
    """Create a key with `role` (refused from `expires_at` on, if given); returns (key_id, secret). The
    secret is not stored and cannot be shown again."""
    if role not in ROLE_RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    path = _keys_path(keys_file)
    secret = _new_secret()
    with _locked(path):
        records = _read_records(path)
        taken = {r.key_id for r in records}
        key_id = "key_" + secrets.token_hex(4)
        while key_id in taken:  # 32 random bits: a clash is rare but cheap to rule out
            key_id = "key_" + secrets.token_hex(4)
        records.append(KeyRecord(key_id, role, hash_secret(secret), _stamp(_now()), label,
                                 expires_at=_stamp(expires_at) if expires_at is not None else None))
        _write_records(path, records)
    return key_id, secret


def _find(records: list[KeyRecord], key_id: str, path: Path) -> int:
    for index, record in enumerate(records):
        if record.key_id == key_id:
            return index
    raise UnknownKey(f"no key {key_id} in {path}")


def find_key(key_id: str, keys_file: Path | None = None) -> KeyRecord:
    """The record of `key_id`; UnknownKey when there is none."""
    path = _keys_path(keys_file)
    records = _read_records(path)
    return records[_find(records, key_id, path)]


def revoke_key(key_id: str, keys_file: Path | None = None) -> bool:
    """Mark a key revoked (its record stays, for `keys list` and the audit trail); True when it was active
    or expired until now, False when it is unknown or was revoked already."""
    path = _keys_path(keys_file)
    with _locked(path):
        records = _read_records(path)
        try:
            index = _find(records, key_id, path)
        except UnknownKey:
            return False
        if records[index].revoked_at:
            return False
        records[index] = replace(records[index], revoked_at=_stamp(_now()))
        _write_records(path, records)
    return True


def rotate_key(key_id: str, keys_file: Path | None = None,
               expires_at: datetime | None = None) -> tuple[KeyRecord, str]:
    """Give a key a new secret (same id, role and name); the old secret is refused from now on. The expiry
    is `expires_at` when given, else the key's own. Returns (the new record, the new secret).

    UnknownKey for an unknown id; ValueError for a revoked key, or one that would still be expired."""
    path = _keys_path(keys_file)
    secret = _new_secret()
    with _locked(path):
        records = _read_records(path)
        index = _find(records, key_id, path)
        record = records[index]
        if record.revoked_at:
            raise ValueError(f"key {key_id} was revoked on {record.revoked_at[:10]}; create a new key instead")
        expiry = _stamp(expires_at) if expires_at is not None else record.expires_at
        rotated = replace(record, sha256=hash_secret(secret), rotated_at=_stamp(_now()), expires_at=expiry)
        if rotated.status() == "expired":
            raise ValueError(f"key {key_id} expired on {(expiry or '')[:10]}; give it a new expiry as well")
        records[index] = rotated
        _write_records(path, records)
    return rotated, secret


def list_keys(keys_file: Path | None = None) -> list[KeyRecord]:
    """The stored key records (ids, roles, hashes, dates; never secrets), revoked ones included."""
    return _read_records(_keys_path(keys_file))


def last_used(keys_file: Path | None = None) -> dict[str, datetime]:
    """When each key was last accepted by a server (as of the servers' last flush), by key id."""
    try:
        raw = json.loads(last_used_path(_keys_path(keys_file)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    times = {key_id: _parse(stamp) for key_id, stamp in raw.get("last_used", {}).items()}
    return {key_id: moment for key_id, moment in times.items() if moment is not None}


def record_last_used(keys_file: Path, times: dict[str, float]) -> None:
    """Merge `times` (key id → epoch seconds) into the last-used file, keeping the later time of each key
    (several server workers flush into one file)."""
    path = last_used_path(keys_file)
    with _locked(keys_file):
        merged = {key_id: moment.timestamp() for key_id, moment in last_used(keys_file).items()}
        for key_id, moment in times.items():
            merged[key_id] = max(moment, merged.get(key_id, moment))
        stamps = {key_id: _stamp(datetime.fromtimestamp(moment, UTC))
                  for key_id, moment in sorted(merged.items())}
        write_atomic(path, json.dumps({"version": FILE_VERSION, "last_used": stamps}, indent=2) + "\n",
                     mode=0o600)


class KeyStore:
    """Verifies secrets against one keys file, re-reading it only when its stat signature changes; notes
    when each key was last used and flushes those times to disk in the background."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time,
                 flush_seconds: float = LAST_USED_FLUSH_SECONDS) -> None:
        self.path = Path(path)
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._by_hash: dict[str, tuple[KeyRecord, float]] = {}  # sha256 → (record, refused from)
        self._used: dict[str, float] = {}  # key id → last accepted (epoch seconds), not yet on disk
        self._flushed: dict[str, float] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def _refresh(self) -> dict[str, tuple[KeyRecord, float]]:
        try:
            st = self.path.stat()
            signature: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = None
        with self._lock:
            if signature != self._signature:
                records = _read_records(self.path) if signature is not None else []
                self._by_hash = {r.sha256: (r, r.refused_from()) for r in records if r.role in ROLE_RANK}
                self._signature = signature
            return self._by_hash

    def _lookup(self, secret: str) -> tuple[KeyRecord, float] | None:
        if not secret:
            return None
        digest = hash_secret(secret)
        entry = self._refresh().get(digest)
        # The dict lookup already matched; compare_digest keeps the final check constant-time anyway.
        if entry is None or not hmac.compare_digest(entry[0].sha256, digest):
            return None
        return entry

    def verify(self, secret: str) -> KeyRecord | None:
        """The key record for `secret`, or None when it is not a valid key (unknown, revoked, expired)."""
        entry = self._lookup(secret)
        if entry is None:
            return None
        now = self._clock()
        record, refused_from = entry
        if now >= refused_from:
            return None
        self._used[record.key_id] = now  # in memory; flush_last_used() writes it
        return record

    def refusal(self, secret: str) -> str:
        """Why `verify` refused `secret`, as a sentence for the 401 answer."""
        entry = self._lookup(secret)
        if entry is None:
            return "Invalid API key."
        record = entry[0]
        if record.revoked_at:
            return (f"API key {record.key_id} was revoked on {record.revoked_at[:10]}; ask an administrator "
                    "for a new key.")
        if record.expires_at:
            return (f"API key {record.key_id} expired on {record.expires_at[:10]}; ask an administrator to "
                    "rotate it.")
        return "Invalid API key."

    # -- last use ----------------------------------------------------------------------------------
    def last_used(self) -> dict[str, float]:
        """Key id → when this process last accepted it (epoch seconds), flushed or not."""
        return dict(self._used)

    def flush_last_used(self) -> int:
        """Write the last-used times noted since the previous flush; returns how many keys."""
        fresh = {key_id: moment for key_id, moment in dict(self._used).items()
                 if moment > self._flushed.get(key_id, -math.inf)}
        if fresh:
            record_last_used(self.path, fresh)
            self._flushed.update(fresh)
        return len(fresh)

    def _flush_quietly(self) -> None:
        try:
            self.flush_last_used()
        except OSError as error:  # a read-only folder must not stop the server; the times are only advisory
            log.warning("keys: last-used times not written (%s)", type(error).__name__)

    def start_flushing(self) -> None:
        """Flush last-used times every `flush_seconds` in a background thread (the server's lifespan)."""
        if self._flusher is not None and self._flusher.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self._flush_seconds):
                self._flush_quietly()

        self._flusher = threading.Thread(target=loop, name="keys-last-used", daemon=True)
        self._flusher.start()

    def stop_flushing(self) -> None:
        """Stop the background flush and write what is left (the server's shutdown)."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
            self._flusher = None
        self._flush_quietly()


_stores: dict[Path, KeyStore] = {}
_stores_lock = threading.Lock()


def key_store(keys_file: Path | None = None) -> KeyStore:
    """The cached `KeyStore` for a keys file (the configured one by default)."""
    path = _keys_path(keys_file).resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = KeyStore(path)
        return store


def verify(secret: str, keys_file: Path | None = None) -> KeyRecord | None:
    """The key record for `secret` in the (configured) keys file, or None."""
    return key_store(keys_file).verify(secret)
