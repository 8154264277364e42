"""API keys: created once, stored hashed, verified through a cache that follows the file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from serving.keys import ROLES, KeyStore, create_key, hash_secret, list_keys, revoke_key, verify


def test_create_stores_only_a_hash(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    key_id, secret = create_key("planner", keys_file)
    text = keys_file.read_text()
    assert secret not in text
    stored = json.loads(text)["keys"]
    assert stored == [{**stored[0], "key_id": key_id, "role": "planner", "sha256": hash_secret(secret)}]
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert len(secret) >= 40  # 32 random bytes, url-safe


def test_verify_finds_the_role_and_rejects_others(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    reader_id, reader = create_key("reader", keys_file)
    admin_id, admin = create_key("admin", keys_file)
    store = KeyStore(keys_file)
    assert store.verify(reader).key_id == reader_id
    assert store.verify(admin).role == "admin"
    assert store.verify(reader + "x") is None
    assert store.verify("") is None
    assert store.verify(hash_secret(reader)) is None  # the stored hash is not a key
    assert verify(admin, keys_file).key_id == admin_id


def test_role_order(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    records = {role: KeyStore(keys_file).verify(create_key(role, keys_file)[1]) for role in ROLES}
    allowed = {(role, need) for role in ROLES for need in ROLES if records[role].allows(need)}
    assert allowed == {("reader", "reader"), ("planner", "reader"), ("planner", "planner"),
                       ("admin", "reader"), ("admin", "planner"), ("admin", "admin")}


def test_cache_follows_the_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    store = KeyStore(keys_file)
    assert store.verify("anything") is None  # no file yet: no key is valid
    key_id, secret = create_key("reader", keys_file)
    assert store.verify(secret).key_id == key_id  # a key created after start-up works without restart
    assert revoke_key(key_id, keys_file) is True
    assert store.verify(secret) is None  # and a revoked one stops working
    assert revoke_key(key_id, keys_file) is False  # revoked already
    assert [(r.key_id, r.status()) for r in list_keys(keys_file)] == [(key_id, "revoked")]  # kept, for the audit


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="role"):
        create_key("root", tmp_path / "keys.json")
    assert not (tmp_path / "keys.json").exists()


def test_many_keys_all_kept(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    created = [create_key("reader", keys_file) for _ in range(20)]
    assert {r.key_id for r in list_keys(keys_file)} == {key_id for key_id, _ in created}
    assert not list(tmp_path.glob(".keys.json.*.tmp"))  # atomic writes leave no temp files
